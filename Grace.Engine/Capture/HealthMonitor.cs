using System.Collections.Concurrent;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
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
/// Runs the targets' health checks and turns a failure into a signal, so Grace notices a fault that
/// nobody logged; when the check passes again, a "resolved" signal closes the incident.
/// </summary>
public sealed class HealthMonitor(
    IOptionsMonitor<CatalogOptions> catalog,
    TargetHealth health,
    TargetRegistry targets,
    ISignalSink sink,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<HealthMonitor> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, (DateTimeOffset Due, int Failures)> _state = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, HealthCheckStatus> _status = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The last reading of a target's health check; null before its first.</summary>
    public HealthCheckStatus? StatusOf(string target) => _status.GetValueOrDefault(target);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Some targets are up only once every hosted service has started (supervised processes, the
        // demo service): a check before that would report a fault Grace itself has not finished starting.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        foreach (var reason in catalog.CurrentValue.Targets.Keys.Select(targets.Unconfigured).OfType<string>())
        {
            logger.LogInformation("{Reason} Its health check does not run.", reason);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await CheckDueAsync(stoppingToken);
                await Task.Delay(TimeSpan.FromMilliseconds(250), time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Health checks failed to run; trying again");
            }
        }
    }

    internal async Task CheckDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var (key, target) in catalog.CurrentValue.Targets)
        {
            if (target.HealthCheck is not { } check || targets.Unconfigured(key) is not null)
            {
                continue;
            }

            var state = _state.GetOrAdd(key, _ => (now, 0));
            if (state.Due > now)
            {
                continue;
            }

            var reading = await health.CheckAsync(key, check, cancellationToken);
            var healthy = reading.Healthy;
            var failures = healthy ? 0 : state.Failures + 1;
            var template = $"Health check {check.Probe} of {key} failed";
            if (failures >= Math.Max(1, check.FailureThreshold))
            {
                sink.TryWrite(new Signal($"health:{key}", $"{template}: {reading.Observed} (healthy when {TargetHealth.Rule(check)})",
                    Severity.Error, now, MessageTemplate: template, Target: key, Labels: new Dictionary<string, string> { ["health_check"] = check.Probe }, ReportedBy: "engine"));
            }
            else if (healthy && state.Failures >= Math.Max(1, check.FailureThreshold))
            {
                sink.TryWrite(new Signal($"health:{key}", $"{template}: passing again", Severity.Information, now, MessageTemplate: template, Target: key, ReportedBy: "engine", Resolved: true));
            }

            _state[key] = (now.AddSeconds(Math.Max(1, check.IntervalSeconds)), failures);
            _status[key] = new HealthCheckStatus(now, healthy, failures, (_status.GetValueOrDefault(key)?.Checks ?? 0) + 1);
        }
    }
}
