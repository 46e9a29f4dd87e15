using Grace.Data.Entities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Grace.Engine.Capture;

/// <summary>
/// An <see cref="ILoggerProvider"/> that turns Error and Critical log entries into signals, for a
/// host that logs through Microsoft.Extensions.Logging rather than Serilog. It keeps the message
/// template (<c>{OriginalFormat}</c>) for the fingerprint. Writing never blocks and never throws.
/// </summary>
public sealed class GraceLoggerProvider(ISignalSink sink, TimeProvider time) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new SignalLogger(categoryName, sink, time);

    public void Dispose()
    {
    }

    private sealed class SignalLogger(string category, ISignalSink sink, TimeProvider time) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error && logLevel != LogLevel.None
            && !category.StartsWith(GraceSerilogSink.CaptureSourcePrefix, StringComparison.Ordinal);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            try
            {
                var template = state is IReadOnlyList<KeyValuePair<string, object?>> values
                    ? values.FirstOrDefault(v => v.Key == "{OriginalFormat}").Value as string
                    : null;
                var message = formatter(state, exception);
                if (exception is not null)
                {
                    message = $"{message} {exception.GetType().Name}: {exception.Message}";
                }

                sink.TryWrite(new Signal(category, message, logLevel == LogLevel.Critical ? Severity.Critical : Severity.Error, time.GetUtcNow(),
                    MessageTemplate: template, ExceptionType: exception?.GetType().FullName, ReportedBy: "engine"));
            }
            catch (Exception)
            {
                // A logger must never throw into its caller; a failed formatter just loses this one signal.
            }
        }
    }
}

public static class GraceLoggingExtensions
{
    /// <summary>Sends this host's Error and Critical log entries to Grace as signals.</summary>
    public static ILoggingBuilder AddGraceSignals(this ILoggingBuilder logging)
    {
        logging.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoggerProvider, GraceLoggerProvider>());
        return logging;
    }
}
