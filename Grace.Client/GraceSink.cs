using System.Globalization;
using Grace.Client;
using Serilog.Configuration;
using Serilog.Core;
using Serilog.Events;

namespace Serilog
{
    public static class GraceSinkExtensions
    {
        /// <summary>
        /// Sends Error and Fatal events (or from <paramref name="restrictedToMinimumLevel"/> up) to a
        /// Grace server, in batches from a bounded buffer; Serilog's call never waits for Grace.
        /// </summary>
        public static LoggerConfiguration Grace(this LoggerSinkConfiguration sinkConfiguration, string endpoint, string apiKey, string? source = null,
            LogEventLevel restrictedToMinimumLevel = LogEventLevel.Error, int bufferCapacity = 10_000, int batchSize = 500)
        {
            ArgumentNullException.ThrowIfNull(sinkConfiguration);
            var options = new GraceClientOptions
            {
                Endpoint = Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) ? uri : null,
                ApiKey = apiKey,
                Source = source,
                BufferCapacity = bufferCapacity,
                BatchSize = batchSize,
            };
            return sinkConfiguration.Sink(new GraceSink(new GraceShipper(options), ownsShipper: true), restrictedToMinimumLevel);
        }

        /// <summary>Sends to Grace with full options (labels, timeouts, diagnostics).</summary>
        public static LoggerConfiguration Grace(this LoggerSinkConfiguration sinkConfiguration, GraceClientOptions options,
            LogEventLevel restrictedToMinimumLevel = LogEventLevel.Error)
        {
            ArgumentNullException.ThrowIfNull(sinkConfiguration);
            return sinkConfiguration.Sink(new GraceSink(new GraceShipper(options), ownsShipper: true), restrictedToMinimumLevel);
        }
    }
}

namespace Grace.Client
{
    /// <summary>
    /// A Serilog sink in front of a <see cref="GraceShipper"/>. The message template's text is the
    /// template Grace fingerprints; scalar properties (SourceContext among them) become labels.
    /// </summary>
    public sealed class GraceSink(GraceShipper shipper, bool ownsShipper = false) : ILogEventSink, IDisposable, IAsyncDisposable
    {
        public GraceShipper Shipper => shipper;

        public void Emit(LogEvent logEvent)
        {
            ArgumentNullException.ThrowIfNull(logEvent);
            try
            {
                var labels = shipper.NewLabels();
                foreach (var (name, value) in logEvent.Properties)
                {
                    var text = value is ScalarValue { Value: var scalar } ? Convert.ToString(scalar, CultureInfo.InvariantCulture) : value.ToString(null, CultureInfo.InvariantCulture);
                    GraceEvent.AddLabel(labels, name == "SourceContext" ? "category" : name, text);
                }

                var severity = logEvent.Level switch
                {
                    LogEventLevel.Fatal => "Critical",
                    LogEventLevel.Error => "Error",
                    LogEventLevel.Warning => "Warning",
                    _ => "Information",
                };
                var exception = logEvent.Exception;
                shipper.TryEnqueue(new GraceEvent(shipper.Source, GraceEvent.MessageOf(logEvent.RenderMessage(CultureInfo.InvariantCulture), exception), severity,
                    logEvent.Timestamp, GraceEvent.Cut(logEvent.MessageTemplate.Text, GraceEvent.MaxMessage),
                    exception is null ? null : GraceEvent.Cut(exception.GetType().FullName ?? exception.GetType().Name, GraceEvent.MaxShort), labels));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Serilog's own rule as well: a sink does not throw into the application.
            }
        }

        public void Dispose()
        {
            if (ownsShipper)
            {
                shipper.Dispose();
            }
        }

        public ValueTask DisposeAsync() => ownsShipper ? shipper.DisposeAsync() : ValueTask.CompletedTask;
    }
}
