using System.Text.Json;
using Grace.Data.Entities;
using Microsoft.Extensions.Options;

namespace Grace.Web.Api;

/// <summary>
/// Generic JSON webhooks (<c>Grace:Webhooks:&lt;name&gt;</c>): for a tool without a format Grace
/// knows, an Admin declares how fields of what it already sends map to a signal, and points it at
/// <c>POST /api/webhooks/&lt;name&gt;</c>. Each mapping value is a path into the JSON (<c>$.monitor.name</c>,
/// <c>$.alerts[0].state</c>; <c>$</c> is the item) or, without a leading <c>$</c>, a fixed text.
/// </summary>
public sealed class WebhooksOptions : Dictionary<string, WebhookMapping>
{
    public const string Section = "Grace:Webhooks";

    public WebhooksOptions()
        : base(StringComparer.OrdinalIgnoreCase)
    {
    }
}

/// <summary>How one webhook's JSON becomes signals.</summary>
public sealed class WebhookMapping
{
    /// <summary>Path to an array whose elements are one alert each; absent, the body is one alert (or an array of them).</summary>
    public string? Items { get; set; }

    /// <summary>The signal's source (required): a path or a fixed text.</summary>
    public string Source { get; set; } = "";

    /// <summary>The signal's message (required).</summary>
    public string Message { get; set; } = "";

    /// <summary>The value <see cref="SeverityMap"/> translates; absent, every signal has <see cref="DefaultSeverity"/>.</summary>
    public string? Severity { get; set; }

    /// <summary>The tool's severity values (as text, compared ignoring case) to Grace's severities.</summary>
    public Dictionary<string, Severity> SeverityMap { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The severity when <see cref="Severity"/> is absent, finds nothing, or finds a value the map lacks.</summary>
    public Severity DefaultSeverity { get; set; } = Data.Entities.Severity.Error;

    /// <summary>Labels to set, each a path or fixed text; a path that finds nothing leaves the label out.</summary>
    public Dictionary<string, string> Labels { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>What identifies one problem across notices (a monitor id, an alert key): repeats fold into one incident.</summary>
    public string? Fingerprint { get; set; }

    /// <summary>The configured target the signal concerns.</summary>
    public string? Target { get; set; }

    /// <summary>When it happened (ISO 8601 or Unix seconds); absent, the time it arrived.</summary>
    public string? Timestamp { get; set; }

    /// <summary>A value that says whether the problem is over; see <see cref="ResolvedValues"/>.</summary>
    public string? Resolved { get; set; }

    /// <summary>Values of <see cref="Resolved"/> (as text, ignoring case) that mean "resolved", e.g. <c>up</c>, <c>ok</c>, <c>1</c>.</summary>
    public List<string> ResolvedValues { get; set; } = [];

    /// <summary>Names of the API keys that may post to this webhook; empty, any key with <c>webhooks:write</c>.</summary>
    public List<string> ApiKeys { get; set; } = [];
}

/// <summary>
/// A small JSON path: <c>$</c>, then <c>.name</c> or <c>[index]</c> steps (<c>$.a.b[0].c</c>). No
/// wildcards or filters: a mapping names one value.
/// </summary>
public sealed class JsonPathLite
{
    private readonly List<object> _steps;

    private JsonPathLite(List<object> steps) => _steps = steps;

    /// <summary>True when the text is a path (starts with <c>$</c>), false when it is a fixed text.</summary>
    public static bool IsPath(string text) => text.StartsWith('$');

    /// <summary>Parses a path, or returns why it is not one.</summary>
    public static (JsonPathLite? Path, string? Error) Parse(string text)
    {
        if (!IsPath(text))
        {
            return (null, "a path starts with '$'");
        }

        var steps = new List<object>();
        var i = 1;
        while (i < text.Length)
        {
            if (text[i] == '.')
            {
                var end = i + 1;
                while (end < text.Length && text[end] is not ('.' or '['))
                {
                    end++;
                }

                if (end == i + 1)
                {
                    return (null, $"an empty name at position {i + 1}");
                }

                steps.Add(text[(i + 1)..end]);
                i = end;
            }
            else if (text[i] == '[')
            {
                var close = text.IndexOf(']', i);
                if (close < 0 || !int.TryParse(text.AsSpan(i + 1, close - i - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index))
                {
                    return (null, $"'[' at position {i + 1} must hold an index such as [0]");
                }

                steps.Add(index);
                i = close + 1;
            }
            else
            {
                return (null, $"unexpected '{text[i]}' at position {i + 1}; use .name or [index]");
            }
        }

        return (new JsonPathLite(steps), null);
    }

    /// <summary>The element the path names, or null when it names nothing.</summary>
    public JsonElement? Find(JsonElement root)
    {
        var current = root;
        foreach (var step in _steps)
        {
            if (step is string name && current.ValueKind == JsonValueKind.Object && current.TryGetProperty(name, out var child))
            {
                current = child;
            }
            else if (step is int index && current.ValueKind == JsonValueKind.Array && index < current.GetArrayLength())
            {
                current = current[index];
            }
            else
            {
                return null;
            }
        }

        return current;
    }
}

/// <summary>Checks every webhook mapping on start; each message names the configuration key at fault.</summary>
public sealed class WebhooksOptionsValidator : IValidateOptions<WebhooksOptions>
{
    public ValidateOptionsResult Validate(string? name, WebhooksOptions options)
    {
        var errors = new List<string>();
        foreach (var (key, mapping) in options)
        {
            var at = $"{WebhooksOptions.Section}:{key}";
            if (key.Length is 0 or > 64 || !key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                errors.Add($"{at}: a webhook name is 1 to 64 letters, digits, '-' or '_' (it becomes /api/webhooks/{key}).");
            }

            Required(mapping.Source, $"{at}:Source", "where the signal's source comes from, e.g. \"$.monitor.name\" or a fixed \"uptime-kuma\"", errors);
            Required(mapping.Message, $"{at}:Message", "where the signal's message comes from, e.g. \"$.msg\"", errors);
            CheckPath(mapping.Source, $"{at}:Source", errors);
            CheckPath(mapping.Message, $"{at}:Message", errors);
            CheckPath(mapping.Items, $"{at}:Items", errors, mustBePath: true);
            CheckPath(mapping.Severity, $"{at}:Severity", errors);
            CheckPath(mapping.Fingerprint, $"{at}:Fingerprint", errors);
            CheckPath(mapping.Target, $"{at}:Target", errors);
            CheckPath(mapping.Timestamp, $"{at}:Timestamp", errors);
            CheckPath(mapping.Resolved, $"{at}:Resolved", errors, mustBePath: true);
            if (mapping.Resolved is { Length: > 0 } && mapping.ResolvedValues.Count == 0)
            {
                errors.Add($"{at}:ResolvedValues must list the values of Resolved that mean the problem is over (e.g. [\"up\"]).");
            }

            if (!Enum.IsDefined(mapping.DefaultSeverity))
            {
                errors.Add($"{at}:DefaultSeverity must be one of {string.Join(", ", Enum.GetNames<Severity>())}.");
            }

            foreach (var (value, severity) in mapping.SeverityMap)
            {
                if (!Enum.IsDefined(severity))
                {
                    errors.Add($"{at}:SeverityMap:{value} must be one of {string.Join(", ", Enum.GetNames<Severity>())}.");
                }
            }

            if (mapping.Labels.Count > 64)
            {
                errors.Add($"{at}:Labels: at most 64 labels.");
            }

            foreach (var (label, path) in mapping.Labels)
            {
                if (label.Length > 128)
                {
                    errors.Add($"{at}:Labels:{label}: a label name is at most 128 characters.");
                }

                Required(path, $"{at}:Labels:{label}", "a path or a fixed text", errors);
                CheckPath(path, $"{at}:Labels:{label}", errors);
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Required(string? value, string key, string what, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add($"{key} is required: {what}.");
        }
    }

    private static void CheckPath(string? value, string key, List<string> errors, bool mustBePath = false)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return;
        }

        if (!JsonPathLite.IsPath(value))
        {
            if (mustBePath)
            {
                errors.Add($"{key} must be a path such as \"$.alerts\" (it is '{value}').");
            }

            return;
        }

        if (JsonPathLite.Parse(value).Error is { } error)
        {
            errors.Add($"{key}: '{value}' is not a path: {error}.");
        }
    }
}
