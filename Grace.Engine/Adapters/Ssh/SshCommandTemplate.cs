using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Grace.Engine.Adapters.Ssh;

/// <summary>
/// Declared command templates: typed parameters checked before anything runs, every value quoted
/// as one shell word, and what is shown (the command line, its output) cut and with secrets
/// redacted. A value that fails its type never reaches a shell.
/// </summary>
public static partial class SshCommandTemplate
{
    public static readonly IReadOnlyList<string> Types = ["Identifier", "Integer", "Number", "Path", "Choice"];

    /// <summary>The placeholders of a template, in order: <c>{Unit}</c> → Unit (not <c>${HOME}</c>, which is the shell's).</summary>
    public static IReadOnlyList<string> Placeholders(string template) =>
        Placeholder().Matches(template).Select(m => m.Groups[1].Value).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>Why a value is not of its parameter's type; null when it is.</summary>
    public static string? Check(string name, string? value, SshParameterOptions parameter)
    {
        if (value is null)
        {
            return $"{name} has no value (and no Default).";
        }

        switch (parameter.Type)
        {
            case "Identifier" when !IdentifierValue().IsMatch(value):
                return $"{name} '{Show(value, parameter)}' is not an Identifier: letters, digits and _ . @ : + - (at most 128, not starting with '-').";
            case "Integer" when !long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _):
                return $"{name} '{Show(value, parameter)}' is not an Integer.";
            case "Number" when !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !double.IsFinite(d):
                return $"{name} '{Show(value, parameter)}' is not a Number.";
            case "Integer" or "Number" when double.Parse(value, CultureInfo.InvariantCulture) is var n && (n < parameter.Min || n > parameter.Max):
                return $"{name} {Show(value, parameter)} is outside {parameter.Min?.ToString(CultureInfo.InvariantCulture) ?? "-∞"}..{parameter.Max?.ToString(CultureInfo.InvariantCulture) ?? "∞"}.";
            case "Path" when !PathValue().IsMatch(value) || value.Split('/').Contains(".."):
                return $"{name} '{Show(value, parameter)}' is not a Path: an absolute path of letters, digits and _ . @ + - /, without '..'.";
            case "Choice" when !parameter.Values.Contains(value, StringComparer.Ordinal):
                return $"{name} '{Show(value, parameter)}' is not one of {string.Join(", ", parameter.Values)}.";
            case "Identifier" or "Integer" or "Number" or "Path" or "Choice":
                return null;
            default:
                return $"{name} has no known Type ('{parameter.Type}'); declare one of {string.Join(", ", Types)}.";
        }
    }

    /// <summary>The values a playbook gives a declared command (defaults filled in), or the problems, each naming its parameter.</summary>
    public static Dictionary<string, string> Values(SshCommandOptions command, IReadOnlyDictionary<string, string> given, IEnumerable<string> own, List<string> errors)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var skip = own.ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var key in given.Keys.Where(k => !skip.Contains(k) && !command.Parameters.ContainsKey(k)).Order(StringComparer.Ordinal))
        {
            errors.Add($"Parameters:{key} is not a parameter of this command; it takes {(command.Parameters.Count == 0 ? "none" : string.Join(", ", command.Parameters.Keys.Order(StringComparer.Ordinal)))}.");
        }

        foreach (var (name, parameter) in command.Parameters)
        {
            var value = given.TryGetValue(name, out var v) ? v : parameter.Default;
            if (Check(name, value, parameter) is { } problem)
            {
                errors.Add($"Parameters:{problem}");
            }
            else
            {
                values[name] = value!;
            }
        }

        return values;
    }

    /// <summary>The command line: the template with each placeholder replaced by its value as one single-quoted shell word.</summary>
    public static string Render(string template, IReadOnlyDictionary<string, string> values, bool redact, SshCommandOptions command) =>
        Placeholder().Replace(template, m =>
        {
            var name = m.Groups[1].Value;
            if (!values.TryGetValue(name, out var value))
            {
                throw new Execute.ActionRefusedException($"The template names {{{name}}}, which has no value.");
            }

            return redact && command.Parameters.TryGetValue(name, out var p) && p.Secret ? "***" : Quote(value);
        });

    /// <summary>One POSIX shell word, whatever the value holds.</summary>
    public static string Quote(string value) => "'" + value.Replace("'", "'\"'\"'", StringComparison.Ordinal) + "'";

    /// <summary>The line sent to the host: the rendered command in <c>sh -c</c> under <c>timeout</c>, so the host itself ends it (TERM, then KILL 5 s later, to its whole process group).</summary>
    public static string Wrap(string rendered, int timeoutSeconds) =>
        $"timeout -k 5 {timeoutSeconds.ToString(CultureInfo.InvariantCulture)} sh -c {Quote(rendered)}";

    /// <summary>Output fit for the timeline: declared secrets and common secret shapes replaced by ***, cut to <paramref name="limit"/> characters.</summary>
    public static string Clean(string? text, IEnumerable<string> secrets, int limit = 2000)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }

        foreach (var secret in secrets.Where(s => s.Length >= 3))
        {
            text = text.Replace(secret, "***", StringComparison.Ordinal);
        }

        text = PrivateKey().Replace(text, "[private key redacted]");
        text = SecretAssignment().Replace(text, m => $"{m.Groups[1].Value}{m.Groups[2].Value}***");
        text = Bearer().Replace(text, "$1 ***");
        text = text.TrimEnd();
        return text.Length <= limit ? text : text[..limit] + $"… ({text.Length - limit:N0} more characters)";
    }

    /// <summary>The first line of an output, short, for the timeline's sentence.</summary>
    public static string FirstLine(string text)
    {
        var line = text.Split('\n', 2)[0].Trim();
        return line.Length > 200 ? line[..200] + "…" : line;
    }

    private static string Show(string value, SshParameterOptions parameter)
    {
        if (parameter.Secret)
        {
            return "***";
        }

        var shown = new StringBuilder();
        foreach (var c in value.Take(80))
        {
            shown.Append(char.IsControl(c) ? '?' : c);
        }

        return shown.ToString() + (value.Length > 80 ? "…" : "");
    }

    [GeneratedRegex(@"(?<!\$)\{([A-Za-z][A-Za-z0-9_]*)\}")]
    private static partial Regex Placeholder();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.@:+-]{0,127}$")]
    private static partial Regex IdentifierValue();

    [GeneratedRegex("^/[A-Za-z0-9_.@+/-]{0,1023}$")]
    private static partial Regex PathValue();

    [GeneratedRegex(@"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)")]
    private static partial Regex PrivateKey();

    [GeneratedRegex(@"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)(\s*[:=]\s*)[^\s'"",;]+")]
    private static partial Regex SecretAssignment();

    [GeneratedRegex(@"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}")]
    private static partial Regex Bearer();
}
