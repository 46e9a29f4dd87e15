namespace Grace.Client;

/// <summary>One event as Grace's <c>POST /api/signals</c> takes it.</summary>
internal sealed record GraceEvent(
    string Source,
    string Message,
    string Severity,
    DateTimeOffset Timestamp,
    string? MessageTemplate,
    string? ExceptionType,
    Dictionary<string, string>? Labels)
{
    // Grace refuses a whole batch over its limits, so events are cut to fit here, where nobody is told.
    internal const int MaxMessage = 8192;
    internal const int MaxShort = 256;
    internal const int MaxLabels = 64;
    internal const int MaxLabelName = 128;
    internal const int MaxLabelValue = 1024;

    internal static string Cut(string value, int max) => value.Length <= max ? value : value[..max];

    /// <summary>The headline, the exception's message when the headline lacks it, then the stack trace.</summary>
    internal static string MessageOf(string? rendered, Exception? exception)
    {
        var headline = string.IsNullOrWhiteSpace(rendered) ? exception?.Message ?? "(no message)" : rendered;
        if (exception is null)
        {
            return Cut(headline, MaxMessage);
        }

        if (!string.IsNullOrEmpty(exception.Message) && !headline.Contains(exception.Message, StringComparison.Ordinal))
        {
            headline = $"{headline}: {exception.Message}";
        }

        return Cut(exception.StackTrace is { Length: > 0 } stack ? $"{headline}\n{stack}" : headline, MaxMessage);
    }

    internal static void AddLabel(Dictionary<string, string> labels, string name, string? value)
    {
        if (labels.Count < MaxLabels && name.Length is > 0 and <= MaxLabelName && !string.IsNullOrEmpty(value))
        {
            labels.TryAdd(name, Cut(value, MaxLabelValue));
        }
    }
}
