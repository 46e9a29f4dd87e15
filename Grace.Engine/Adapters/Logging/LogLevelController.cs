using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Grace.Engine.Execute;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace Grace.Engine.Adapters.Logging;

/// <summary>
/// Owns one Serilog level switch per controlled source, so the logging executor can change
/// Grace's own levels at run time and put them back after a time to live.
/// </summary>
/// <remarks>
/// Serilog only honours overrides declared when the logger is built, so the controlled sources are
/// fixed at start: <c>Default</c> (the root level), every key under
/// <c>Serilog:MinimumLevel:Override</c>, <c>Grace</c>, and <c>Grace:Logging:ControlledSources</c>.
/// </remarks>
public sealed class LogLevelController : IDisposable
{
    public const string DefaultSource = "Default";

    private readonly ConcurrentDictionary<string, LoggingLevelSwitch> _switches = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ITimer> _reverts = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public LogLevelController(IConfiguration configuration, TimeProvider time)
    {
        _time = time;
        var minimum = configuration.GetSection("Serilog:MinimumLevel");
        var defaultLevel = Parse(minimum.Value ?? minimum["Default"], LogEventLevel.Information);
        _switches[DefaultSource] = new LoggingLevelSwitch(defaultLevel);
        foreach (var child in minimum.GetSection("Override").GetChildren())
        {
            _switches[child.Key] = new LoggingLevelSwitch(Parse(child.Value, defaultLevel));
        }

        _switches.TryAdd("Grace", new LoggingLevelSwitch(defaultLevel));
        foreach (var source in configuration.GetSection("Grace:Logging:ControlledSources").Get<string[]>() ?? [])
        {
            _switches.TryAdd(source, new LoggingLevelSwitch(defaultLevel));
        }
    }

    /// <summary>The sources whose level can be changed.</summary>
    public IReadOnlyCollection<string> Sources => _switches.Keys.Order(StringComparer.Ordinal).ToList();

    public bool IsControlled(string source) => _switches.ContainsKey(source);

    public LogEventLevel GetLevel(string source) => Switch(source).MinimumLevel;

    /// <summary>Sets a level now; with a time to live, the previous level comes back by itself.</summary>
    public void SetLevel(string source, LogEventLevel level, TimeSpan? timeToLive = null, LogEventLevel? revertTo = null)
    {
        var levelSwitch = Switch(source);
        var previous = revertTo ?? levelSwitch.MinimumLevel;
        CancelRevert(source);
        levelSwitch.MinimumLevel = level;
        if (timeToLive is { } ttl && ttl > TimeSpan.Zero)
        {
            var timer = _time.CreateTimer(_ => { levelSwitch.MinimumLevel = previous; _reverts.TryRemove(source, out ITimer? _); },
                null, ttl, Timeout.InfiniteTimeSpan);
            _reverts[source] = timer;
        }
    }

    public void CancelRevert(string source)
    {
        if (_reverts.TryRemove(source, out var timer))
        {
            timer.Dispose();
        }
    }

    /// <summary>Wires the switches into a logger configuration; call after <c>ReadFrom.Configuration</c>.</summary>
    public LoggerConfiguration Apply(LoggerConfiguration configuration)
    {
        configuration.MinimumLevel.ControlledBy(_switches[DefaultSource]);
        foreach (var (source, levelSwitch) in _switches)
        {
            if (source != DefaultSource)
            {
                configuration.MinimumLevel.Override(source, levelSwitch);
            }
        }

        return configuration;
    }

    public void Dispose()
    {
        foreach (var timer in _reverts.Values)
        {
            timer.Dispose();
        }
    }

    private LoggingLevelSwitch Switch(string source) => _switches.TryGetValue(source, out var s)
        ? s
        : throw new ActionRefusedException($"Logging source '{source}' is not controlled; controlled sources: {string.Join(", ", Sources)}.");

    private static LogEventLevel Parse(string? value, LogEventLevel fallback) =>
        Enum.TryParse<LogEventLevel>(value, ignoreCase: true, out var level) ? level : fallback;
}
