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
        if (source.StartsWith(CaptureSourcePrefix, StringComparison.Ordinal) || IsCallersToReport(source, logEvent))
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

    /// <summary>
    /// Orleans logs at Error each message it could not address: to an instance that has left the
    /// cluster (a host-bound target's grain, an instance's own grain), or to one that died and is
    /// not yet declared dead (the connection fails). The caller of a request gets the same failure and
    /// reports it in its own words (a mission "could not move; trying again", a plan "will be tried
    /// again"); the only one-way message Grace sends is the best-effort live-event relay, whose loss
    /// a page reload repairs. So Orleans' line is a duplicate, and counting it as a fault of Grace
    /// would open an incident each time an instance dies.
    /// </summary>
    private static bool IsCallersToReport(string source, LogEvent logEvent)
    {
        if (source == "Orleans.Messaging" && logEvent.MessageTemplate.Text.StartsWith("Failed to address message", StringComparison.Ordinal))
        {
            return true;
        }

        for (var e = logEvent.Exception; e is not null; e = e.InnerException)
        {
            if (e is Cluster.InstanceUnavailableException)
            {
                return true;
            }
        }

        return false;
    }
}
