using Grace.Data.Entities;
using Serilog.Core;
using Serilog.Events;

namespace Grace.Engine.Capture;

/// <summary>
/// Turns Grace's own Error and Fatal log events into signals: Grace heals itself. The message
/// template is kept, so repeats of one log statement make one incident whatever their values.
/// </summary>
public sealed class GraceSerilogSink(ISignalSink sink, TimeProvider time) : ILogEventSink
{
    /// <summary>Events from these sources are not captured: a failure to capture must not feed itself.</summary>
    internal const string CaptureSourcePrefix = "Grace.Engine.Capture";

    public void Emit(LogEvent logEvent)
    {
        if (logEvent.Level < LogEventLevel.Error)
        {
            return;
        }

        var source = logEvent.Properties.TryGetValue(Constants.SourceContextPropertyName, out var ctx) && ctx is ScalarValue { Value: string s } ? s : "Grace";
        if (source.StartsWith(CaptureSourcePrefix, StringComparison.Ordinal))
        {
            return;
        }

        var message = logEvent.RenderMessage();
        if (logEvent.Exception is { } ex)
        {
            message = $"{message} {ex.GetType().Name}: {ex.Message}";
        }

        sink.TryWrite(new Signal(
            Source: source,
            Message: message,
            Severity: logEvent.Level == LogEventLevel.Fatal ? Severity.Critical : Severity.Error,
            Timestamp: logEvent.Timestamp == default ? time.GetUtcNow() : logEvent.Timestamp,
            MessageTemplate: logEvent.MessageTemplate.Text,
            ExceptionType: logEvent.Exception?.GetType().FullName,
            Target: "grace",
            ReportedBy: "engine"));
    }
}
