using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Grace.Engine.Capture;

/// <summary>
/// Groups repeats of one problem: the message template where the source is structured, else the
/// message with its variable parts (timestamps, GUIDs, IP addresses, hex ids, numbers) folded into
/// placeholders, plus the exception type and the source.
/// </summary>
public static partial class Fingerprinter
{
    public static string TemplateOf(Signal signal) =>
        !string.IsNullOrWhiteSpace(signal.MessageTemplate) ? signal.MessageTemplate : Normalize(signal.Message);

    public static string Compute(Signal signal) => Compute(signal.Source, signal.ExceptionType, TemplateOf(signal));

    public static string Compute(string source, string? exceptionType, string template)
    {
        var text = $"{source}\n{exceptionType}\n{template}";
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        return Convert.ToHexStringLower(hash[..16]);
    }

    /// <summary>Folds the variable parts of a message so that repeats compare equal; words stay.</summary>
    public static string Normalize(string message)
    {
        var s = Timestamp().Replace(message, "<ts>");
        s = Guid().Replace(s, "<guid>");
        s = IpAddress().Replace(s, "<ip>");
        s = Hex().Replace(s, "<hex>");
        s = Number().Replace(s, "<n>");
        return Whitespace().Replace(s, " ").Trim();
    }

    [GeneratedRegex(@"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", RegexOptions.CultureInvariant)]
    private static partial Regex Timestamp();

    [GeneratedRegex(@"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", RegexOptions.CultureInvariant)]
    private static partial Regex Guid();

    [GeneratedRegex(@"\b\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?\b|\[?\b[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{0,4}){2,7}\]?(:\d{1,5})?", RegexOptions.CultureInvariant)]
    private static partial Regex IpAddress();

    // 0x-prefixed, or 8+ hex characters with at least one digit (commit ids, trace ids, pod hashes).
    [GeneratedRegex(@"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b", RegexOptions.CultureInvariant)]
    private static partial Regex Hex();

    [GeneratedRegex(@"(?<![A-Za-z_])-?\d+(\.\d+)?", RegexOptions.CultureInvariant)]
    private static partial Regex Number();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Whitespace();
}
