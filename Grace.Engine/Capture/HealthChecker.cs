using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Capture;

/// <summary>A periodic check of a target (<c>Grace:Targets:&lt;key&gt;:HealthCheck</c>): healthy while the probe's reading satisfies the comparison.</summary>
public sealed class HealthCheckOptions
{
    public string Probe { get; set; } = "http.status";
    public Dictionary<string, string> Parameters { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public Comparator Comparator { get; set; } = Comparator.LessThan;
    public double Threshold { get; set; } = 400;
    public double IntervalSeconds { get; set; } = 15;
    /// <summary>Failed readings in a row before the failure becomes a signal (a process still starting, one lost packet).</summary>
    public int FailureThreshold { get; set; } = 1;
}

/// <summary>Where a target's health check stands: its last reading, how many failed in a row, how many ran.</summary>
public sealed record HealthCheckStatus(DateTimeOffset CheckedAt, bool Healthy, int FailuresInARow, long Checks);

/// <summary>
/// One reading of a target's health check, turned into a signal when it fails (so Grace notices a
/// fault nobody logged) and into a "resolved" signal when it passes again. The target's grain
/// calls it on a timer, so each check runs once per interval in the whole cluster.
/// </summary>
public sealed class HealthChecker(IOptionsMonitor<CatalogOptions> catalog, TargetHealth health, TargetRegistry targets, ISignalSink sink, TimeProvider time)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, HealthCheckStatus> _status = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Failed readings in a row so far.</summary>
    public sealed record State(int Failures);

    /// <summary>The last reading of a target's health check taken on this instance; null before its first.</summary>
    public HealthCheckStatus? StatusOf(string target) => _status.GetValueOrDefault(target);

    /// <summary>False for an optional target left unconfigured: its check does not run.</summary>
    public bool CanCheck(string key) => targets.Unconfigured(key) is null;

    public async Task<State> CheckOnceAsync(string key, State state, CancellationToken cancellationToken)
    {
        if (!catalog.CurrentValue.Targets.TryGetValue(key, out var target) || target.HealthCheck is not { } check)
        {
            return state;
        }

        var now = time.GetUtcNow();
        var reading = await health.CheckAsync(key, check, cancellationToken);
        var failures = reading.Healthy ? 0 : state.Failures + 1;
        var template = $"Health check {check.Probe} of {key} failed";
        if (failures >= Math.Max(1, check.FailureThreshold))
        {
            sink.TryWrite(new Signal($"{SignalSources.Health}{key}", $"{template}: {reading.Observed} (healthy when {TargetHealth.Rule(check, reading.Unit)})",
                Severity.Error, now, MessageTemplate: template, Target: key, Labels: new Dictionary<string, string> { ["health_check"] = check.Probe }, ReportedBy: "engine"));
        }
        else if (reading.Healthy && state.Failures >= Math.Max(1, check.FailureThreshold))
        {
            sink.TryWrite(new Signal($"{SignalSources.Health}{key}", $"{template}: passing again", Severity.Information, now, MessageTemplate: template, Target: key, ReportedBy: "engine", Resolved: true));
        }

        _status[key] = new HealthCheckStatus(now, reading.Healthy, failures, (_status.GetValueOrDefault(key)?.Checks ?? 0) + 1);
        return new State(failures);
    }
}
