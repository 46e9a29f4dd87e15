using System.Collections.Concurrent;

namespace Grace.Web.Telemetry;

/// <summary>
/// One logger per category, as ASP.NET Core's own <see cref="LoggerFactory"/> keeps them. Serilog's factory
/// (what <c>AddSerilog</c> registers) builds a new logger, with its own event-id cache and enriched Serilog
/// logger, on every <see cref="CreateLogger"/>; Blazor calls it for every circuit (its renderer, circuit and
/// navigation manager, the authentication state provider) and the static renderer of every request. A heap
/// dump of 210 open circuits held 1,875 of them, nine per circuit (docs/benchmarks.md, issue 13).
/// </summary>
public sealed class CachingLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    private readonly ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, inner.CreateLogger);

    public void AddProvider(ILoggerProvider provider)
    {
        // Loggers created before the provider would not write to it; the default factory updates them, this one starts again.
        inner.AddProvider(provider);
        _loggers.Clear();
    }

    public void Dispose() => inner.Dispose();

    /// <summary>Wraps the last <see cref="ILoggerFactory"/> registered (Serilog's) so loggers are made once per category.</summary>
    public static IServiceCollection CacheLoggers(IServiceCollection services)
    {
        var registered = services.LastOrDefault(d => d.ServiceType == typeof(ILoggerFactory))
            ?? throw new InvalidOperationException("No ILoggerFactory is registered to cache.");
        services.Remove(registered);
        services.AddSingleton<ILoggerFactory>(sp => new CachingLoggerFactory(registered switch
        {
            { ImplementationInstance: ILoggerFactory instance } => instance,
            { ImplementationFactory: { } factory } => (ILoggerFactory)factory(sp),
            { ImplementationType: { } type } => (ILoggerFactory)ActivatorUtilities.CreateInstance(sp, type),
            _ => throw new InvalidOperationException("The registered ILoggerFactory cannot be created."),
        }));
        return services;
    }
}
