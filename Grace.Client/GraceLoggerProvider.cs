using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Configuration;
using Microsoft.Extensions.Options;

namespace Grace.Client;

/// <summary>
/// An <see cref="ILoggerProvider"/> that sends Error and Critical entries (or from
/// <see cref="GraceClientOptions.MinimumLevel"/> up) to Grace. The message template
/// (<c>{OriginalFormat}</c>) is sent as the template, so "order 41 failed" and "order 42 failed"
/// are one incident; the category, event id and the template's values become labels.
/// </summary>
[ProviderAlias("Grace")]
public sealed class GraceLoggerProvider : ILoggerProvider
{
    private readonly GraceShipper _shipper;
    private readonly LogLevel _minimum;
    private readonly bool _ownsShipper;

    public GraceLoggerProvider(IOptions<GraceClientOptions> options)
        : this(new GraceShipper(options.Value), options.Value.MinimumLevel, ownsShipper: true)
    {
    }

    public GraceLoggerProvider(GraceShipper shipper, LogLevel minimum = LogLevel.Error, bool ownsShipper = false)
    {
        _shipper = shipper;
        _minimum = minimum;
        _ownsShipper = ownsShipper;
    }

    public GraceShipper Shipper => _shipper;

    public ILogger CreateLogger(string categoryName) => new GraceLogger(categoryName, this);

    /// <summary>Flushes what is buffered (bounded by the shutdown timeout) when the host stops.</summary>
    public void Dispose()
    {
        if (_ownsShipper)
        {
            _shipper.Dispose();
        }
    }

    private sealed class GraceLogger(string category, GraceLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= provider._minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            try
            {
                var shipper = provider._shipper;
                var labels = shipper.NewLabels();
                string? template = null;
                if (state is IReadOnlyList<KeyValuePair<string, object?>> values)
                {
                    foreach (var (name, value) in values)
                    {
                        if (name == "{OriginalFormat}")
                        {
                            template = value as string;
                        }
                        else
                        {
                            GraceEvent.AddLabel(labels, name, Convert.ToString(value, CultureInfo.InvariantCulture));
                        }
                    }
                }

                GraceEvent.AddLabel(labels, "category", category);
                if (eventId.Id != 0)
                {
                    GraceEvent.AddLabel(labels, "event.id", eventId.Id.ToString(CultureInfo.InvariantCulture));
                }

                GraceEvent.AddLabel(labels, "event.name", eventId.Name);
                var severity = logLevel >= LogLevel.Critical ? "Critical" : logLevel >= LogLevel.Error ? "Error" : logLevel >= LogLevel.Warning ? "Warning" : "Information";
                shipper.TryEnqueue(new GraceEvent(shipper.Source, GraceEvent.MessageOf(formatter(state, exception), exception), severity, shipper.Now,
                    template is null ? null : GraceEvent.Cut(template, GraceEvent.MaxMessage), exception is null ? null : GraceEvent.Cut(exception.GetType().FullName ?? exception.GetType().Name, GraceEvent.MaxShort),
                    labels));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Logging must never throw into the service: an event that cannot be built is not sent.
            }
        }
    }
}

public static class GraceLoggingBuilderExtensions
{
    /// <summary>
    /// Sends this service's errors to Grace, configured from the <c>GraceClient</c> section
    /// (Endpoint, ApiKey, Source, ...) and then <paramref name="configure"/>. Settings are checked
    /// when the first logger is made, naming the key that is wrong.
    /// </summary>
    public static ILoggingBuilder AddGraceClient(this ILoggingBuilder builder, Action<GraceClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddConfiguration();
        var options = builder.Services.AddOptions<GraceClientOptions>();
        options.Configure<IConfiguration>((o, configuration) => configuration.GetSection(GraceClientOptions.Section).Bind(o));
        if (configure is not null)
        {
            options.Configure(configure);
        }

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoggerProvider, GraceLoggerProvider>());
        return builder;
    }
}
