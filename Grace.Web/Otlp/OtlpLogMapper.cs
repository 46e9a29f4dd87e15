using System.Globalization;
using System.Text;
using Google.Protobuf;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Web.Otlp.Proto.Collector;
using Grace.Web.Otlp.Proto.Common;
using Grace.Web.Otlp.Proto.Logs;

namespace Grace.Web.Otlp;

/// <summary>What one export request holds for Grace: the signals, and how many records were ignored or refused (and why).</summary>
internal sealed record OtlpBatch(List<Signal> Signals, int Ignored, int Rejected, string? RejectedBecause);

/// <summary>
/// Turns OTLP log records into signals. <c>service.namespace/service.name</c> is the source; the
/// other resource attributes, the instrumentation scope (the .NET logger category), trace and
/// span ids and the configured log attributes are labels; the body and the <c>exception.*</c>
/// attributes are the message and exception type; a template attribute, where the exporter sends
/// one, is the fingerprint's template.
/// </summary>
internal static class OtlpLogMapper
{
    // The signal API's limits, so a record that fits one fits the other; OTLP text is cut, not refused (no collector can fix it).
    private const int MaxSource = 256;
    private const int MaxMessage = 8192;
    private const int MaxTemplate = 2048;
    private const int MaxExceptionType = 256;
    private const int MaxTarget = 128;
    private const int MaxLabels = 64;
    private const int MaxLabelName = 128;
    private const int MaxLabelValue = 1024;

    public const string TargetAttribute = "grace.target";

    public static OtlpBatch Map(ExportLogsServiceRequest request, OtlpOptions options, string reporter, DateTimeOffset now)
    {
        var signals = new List<Signal>();
        var ignored = 0;
        var rejected = 0;
        string? because = null;
        foreach (var resourceLogs in request.ResourceLogs)
        {
            var resource = resourceLogs.Resource?.Attributes ?? [];
            var source = SourceOf(resource);
            var resourceTarget = Find(resource, TargetAttribute);
            foreach (var scopeLogs in resourceLogs.ScopeLogs)
            {
                var scope = scopeLogs.Scope?.Name;
                foreach (var record in scopeLogs.LogRecords)
                {
                    var number = SeverityOf(record);
                    if (number < options.MinimumSeverityNumber)
                    {
                        ignored++;
                        continue;
                    }

                    if (Refusal(record) is { } why)
                    {
                        rejected++;
                        because ??= why;
                        continue;
                    }

                    signals.Add(ToSignal(record, number, source, scope, resource, resourceTarget, options, reporter, now));
                }
            }
        }

        return new OtlpBatch(signals, ignored, rejected, because);
    }

    /// <summary>The spec's severity number, or where a sender left it unset, its severity text read as one.</summary>
    internal static int SeverityOf(LogRecord record)
    {
        if (record.SeverityNumber != SeverityNumber.Unspecified)
        {
            return (int)record.SeverityNumber;
        }

        var text = record.SeverityText.AsSpan().Trim().TrimEnd("0123456789");
        return text switch
        {
            _ when text.Equals("TRACE", StringComparison.OrdinalIgnoreCase) || text.Equals("VERBOSE", StringComparison.OrdinalIgnoreCase) => 1,
            _ when text.Equals("DEBUG", StringComparison.OrdinalIgnoreCase) => 5,
            _ when text.Equals("INFO", StringComparison.OrdinalIgnoreCase) || text.Equals("INFORMATION", StringComparison.OrdinalIgnoreCase)
                || text.Equals("NOTICE", StringComparison.OrdinalIgnoreCase) => 9,
            _ when text.Equals("WARN", StringComparison.OrdinalIgnoreCase) || text.Equals("WARNING", StringComparison.OrdinalIgnoreCase) => 13,
            _ when text.Equals("ERROR", StringComparison.OrdinalIgnoreCase) || text.Equals("ERR", StringComparison.OrdinalIgnoreCase) => 17,
            _ when text.Equals("FATAL", StringComparison.OrdinalIgnoreCase) || text.Equals("CRITICAL", StringComparison.OrdinalIgnoreCase)
                || text.Equals("CRIT", StringComparison.OrdinalIgnoreCase) || text.Equals("EMERG", StringComparison.OrdinalIgnoreCase)
                || text.Equals("EMERGENCY", StringComparison.OrdinalIgnoreCase) || text.Equals("ALERT", StringComparison.OrdinalIgnoreCase)
                || text.Equals("PANIC", StringComparison.OrdinalIgnoreCase) => 21,
            // Unset and unnamed: not known to be an error, so not one.
            _ => 0,
        };
    }

    private static Severity ToGrace(int number) => number switch
    {
        >= 21 => Severity.Critical,
        >= 17 => Severity.Error,
        >= 13 => Severity.Warning,
        >= 9 => Severity.Information,
        _ => Severity.Debug,
    };

    // The spec fixes the id lengths; a record with another length is malformed, and saying so beats a label nobody can follow.
    private static string? Refusal(LogRecord record) => record switch
    {
        { TraceId.Length: not (0 or 16) } => $"trace_id must be 16 bytes (32 hex characters in JSON); one record had {record.TraceId.Length}.",
        { SpanId.Length: not (0 or 8) } => $"span_id must be 8 bytes (16 hex characters in JSON); one record had {record.SpanId.Length}.",
        _ => null,
    };

    private static Signal ToSignal(LogRecord record, int number, string source, string? scope, IReadOnlyList<KeyValue> resource, string? resourceTarget,
        OtlpOptions options, string reporter, DateTimeOffset now)
    {
        var attributes = record.Attributes;
        var body = record.Body is null ? null : Render(record.Body);
        var exceptionType = Find(attributes, "exception.type");
        var exceptionMessage = Find(attributes, "exception.message");
        var stackTrace = Find(attributes, "exception.stacktrace");
        exceptionType = QualifiedType(exceptionType, stackTrace);

        // The OpenTelemetry .NET SDK (unless IncludeFormattedMessage is on) and several Serilog/Go/Python
        // bridges send the template itself as the body, with the holes' values as attributes. Such a body is
        // the best fingerprint there is, and the message is the template filled in.
        string? bodyTemplate = null;
        if (body is { Length: > 0 } && FillTemplate(body, attributes) is { } filled)
        {
            bodyTemplate = body;
            body = filled;
        }

        var headline = string.IsNullOrWhiteSpace(body) ? exceptionMessage ?? exceptionType ?? "(an OTLP log record without a body)" : body;
        if (!string.IsNullOrWhiteSpace(exceptionMessage) && !headline.Contains(exceptionMessage, StringComparison.Ordinal))
        {
            headline = $"{headline}: {exceptionMessage}";
        }

        // The template is the exporter's where it sends one, else the headline folded; never the stack trace,
        // so a line number moving in a deploy does not make a new incident.
        string? template = null;
        foreach (var name in options.Templates)
        {
            if (Find(attributes, name) is { Length: > 0 } t)
            {
                template = t;
                break;
            }
        }

        template ??= bodyTemplate ?? Fingerprinter.Normalize(headline);
        var message = string.IsNullOrWhiteSpace(stackTrace) ? headline : $"{headline}\n{stackTrace}";

        var labels = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (record.TraceId.Length == 16)
        {
            labels["trace_id"] = Convert.ToHexStringLower(record.TraceId.Span);
        }

        if (record.SpanId.Length == 8)
        {
            labels["span_id"] = Convert.ToHexStringLower(record.SpanId.Span);
        }

        if (!string.IsNullOrEmpty(scope))
        {
            labels["otel.scope.name"] = Cut(scope, MaxLabelValue);
        }

        if (record.EventName is { Length: > 0 } eventName)
        {
            labels["event.name"] = Cut(eventName, MaxLabelValue);
        }

        foreach (var attribute in resource)
        {
            if (attribute.Key is not ("service.name" or "service.namespace"))
            {
                AddLabel(labels, attribute);
            }
        }

        foreach (var name in options.Labels)
        {
            foreach (var attribute in attributes)
            {
                if (attribute.Key == name)
                {
                    AddLabel(labels, attribute);
                }
            }
        }

        var target = Find(attributes, TargetAttribute) ?? resourceTarget;
        return new Signal(source, Cut(message, MaxMessage), ToGrace(number), TimestampOf(record, now), Cut(template, MaxTemplate),
            exceptionType is { Length: > 0 } ? Cut(exceptionType, MaxExceptionType) : null, target is { Length: > 0 } ? Cut(target, MaxTarget) : null,
            labels, reporter);
    }

    /// <summary>
    /// The body with each <c>{Name}</c>, <c>{@Name}</c> or <c>{Name:format}</c> hole replaced by the
    /// attribute of that name; null when the body has no hole that an attribute fills (it is then
    /// plain text, and a brace in it is just a brace).
    /// </summary>
    internal static string? FillTemplate(string body, IReadOnlyList<KeyValue> attributes)
    {
        if (body.IndexOf('{', StringComparison.Ordinal) < 0 || attributes.Count == 0)
        {
            return null;
        }

        var text = new StringBuilder(body.Length + 32);
        var filled = false;
        var i = 0;
        while (i < body.Length)
        {
            var open = body.IndexOf('{', i);
            if (open < 0)
            {
                AppendLiteral(text, body.AsSpan(i));
                break;
            }

            AppendLiteral(text, body.AsSpan(i, open - i));
            if (open + 1 < body.Length && body[open + 1] == '{')
            {
                // "{{" is an escaped brace in .NET and Serilog templates.
                text.Append('{');
                i = open + 2;
                continue;
            }

            var close = body.IndexOf('}', open + 1);
            if (close < 0)
            {
                text.Append(body, open, body.Length - open);
                break;
            }

            var hole = body.AsSpan(open + 1, close - open - 1).TrimStart("@$");
            var end = hole.IndexOfAny(':', ',');
            var name = (end < 0 ? hole : hole[..end]).ToString();
            if (name.Length > 0 && Find(attributes, name) is { } value)
            {
                text.Append(value);
                filled = true;
            }
            else
            {
                text.Append(body, open, close - open + 1);
            }

            i = close + 1;
        }

        return filled ? text.ToString() : null;
    }

    // Text between holes, where "}}" is an escaped brace; a filled-in value is left as it is.
    private static void AppendLiteral(StringBuilder text, ReadOnlySpan<char> literal)
    {
        for (var i = 0; i < literal.Length; i++)
        {
            text.Append(literal[i]);
            if (literal[i] == '}' && i + 1 < literal.Length && literal[i + 1] == '}')
            {
                i++;
            }
        }
    }

    /// <summary>
    /// The OpenTelemetry .NET SDK sends the exception's short name (<c>InvalidOperationException</c>) as
    /// exception.type and <c>Exception.ToString()</c> as the stack trace, whose first line starts with
    /// the full name. The full name is taken from there, so the same error fingerprints alike whether it
    /// came over OTLP, Grace.Client or the signal API, and two types of one name in two namespaces stay apart.
    /// </summary>
    internal static string? QualifiedType(string? type, string? stackTrace)
    {
        if (type is not { Length: > 0 } || type.Contains('.', StringComparison.Ordinal) || stackTrace is not { Length: > 0 })
        {
            return type;
        }

        var line = stackTrace.AsSpan().TrimStart();
        var end = line.IndexOfAny('\n', '\r');
        line = end < 0 ? line : line[..end];
        var colon = line.IndexOf(':');
        var candidate = (colon < 0 ? line : line[..colon]).Trim();
        return candidate.Length > type.Length && candidate.EndsWith(type, StringComparison.Ordinal) && candidate[^(type.Length + 1)] == '.'
            && !candidate.ContainsAny(' ', '\t') ? candidate.ToString() : type;
    }

    private static void AddLabel(Dictionary<string, string> labels, KeyValue attribute)
    {
        if (labels.Count < MaxLabels && attribute.Key.Length is > 0 and <= MaxLabelName && attribute.Value is not null && Render(attribute.Value) is { Length: > 0 } value)
        {
            labels.TryAdd(attribute.Key, Cut(value, MaxLabelValue));
        }
    }

    /// <summary><c>service.namespace/service.name</c>; the SDKs fill service.name with <c>unknown_service:process</c> when it is not set.</summary>
    private static string SourceOf(IReadOnlyList<KeyValue> resource)
    {
        var name = Find(resource, "service.name") is { Length: > 0 } n ? n : "unknown_service";
        return Cut(Find(resource, "service.namespace") is { Length: > 0 } ns ? $"{ns}/{name}" : name, MaxSource);
    }

    private static DateTimeOffset TimestampOf(LogRecord record, DateTimeOffset now)
    {
        var nanos = record.TimeUnixNano != 0 ? record.TimeUnixNano : record.ObservedTimeUnixNano;
        // Every 64-bit nanosecond count (up to the year 2554) fits a DateTimeOffset, so only zero needs a stand-in.
        return nanos == 0 ? now : DateTimeOffset.UnixEpoch.AddTicks((long)(nanos / 100));
    }

    private static string? Find(IReadOnlyList<KeyValue> attributes, string key)
    {
        for (var i = 0; i < attributes.Count; i++)
        {
            if (attributes[i].Key == key)
            {
                return attributes[i].Value is { } value ? Render(value) : null;
            }
        }

        return null;
    }

    /// <summary>Text for a value: strings as they are, numbers invariant, arrays and maps as compact JSON.</summary>
    internal static string Render(AnyValue value) => value.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.None => "",
        _ => Append(new StringBuilder(), value, quoted: false).ToString(),
    };

    private static StringBuilder Append(StringBuilder text, AnyValue value, bool quoted)
    {
        switch (value.ValueCase)
        {
            case AnyValue.ValueOneofCase.StringValue:
                return quoted ? text.Append(System.Text.Json.JsonSerializer.Serialize(value.StringValue)) : text.Append(value.StringValue);
            case AnyValue.ValueOneofCase.BoolValue:
                return text.Append(value.BoolValue ? "true" : "false");
            case AnyValue.ValueOneofCase.IntValue:
                return text.Append(value.IntValue.ToString(CultureInfo.InvariantCulture));
            case AnyValue.ValueOneofCase.DoubleValue:
                return text.Append(value.DoubleValue.ToString("R", CultureInfo.InvariantCulture));
            case AnyValue.ValueOneofCase.BytesValue:
                return quoted ? text.Append('"').Append(value.BytesValue.ToBase64()).Append('"') : text.Append(value.BytesValue.ToBase64());
            case AnyValue.ValueOneofCase.ArrayValue:
                text.Append('[');
                for (var i = 0; i < value.ArrayValue.Values.Count; i++)
                {
                    Append(i > 0 ? text.Append(',') : text, value.ArrayValue.Values[i], quoted: true);
                }

                return text.Append(']');
            case AnyValue.ValueOneofCase.KvlistValue:
                text.Append('{');
                for (var i = 0; i < value.KvlistValue.Values.Count; i++)
                {
                    var kv = value.KvlistValue.Values[i];
                    (i > 0 ? text.Append(',') : text).Append(System.Text.Json.JsonSerializer.Serialize(kv.Key)).Append(':');
                    Append(text, kv.Value ?? new AnyValue(), quoted: true);
                }

                return text.Append('}');
            default:
                return quoted ? text.Append("null") : text;
        }
    }

    private static string Cut(string value, int max) => value.Length <= max ? value : value[..max];
}
