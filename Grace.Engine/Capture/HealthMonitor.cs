using System.Collections.Concurrent;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
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
}

/// <summary>
/// Runs the targets' health checks and turns a failure into a signal, so Grace notices a fault that
/// nobody logged; when the check passes again, a "resolved" signal closes the incident.
/// </summary>
public sealed class HealthMonitor(
    IOptionsMonitor<CatalogOptions> catalog,
    ExecutorCatalog executors,
    TargetRegistry targets,
    ActionResilience resilience,
    ISignalSink sink,
    TimeProvider time,
    ILogger<HealthMonitor> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, (DateTimeOffset Due, bool Failing)> _state = new(StringComparer.OrdinalIgnoreCase);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
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
            if (target.HealthCheck is not { } check || !executors.Probes.TryGetValue(check.Probe, out var probe))
            {
                continue;
            }

            var state = _state.GetOrAdd(key, _ => (now, false));
            if (state.Due > now)
            {
                continue;
            }

            double? value = null;
            string? error = null;
            try
            {
                value = await resilience.ForProbe(key).ExecuteAsync(
                    ct => new ValueTask<double>(probe.ReadAsync(new ProbeRequest(targets.Resolve(key), check.Parameters, null), ct)), cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                error = ex.Message;
            }

            var healthy = value is { } v && ContractVerifier.Holds(check.Comparator, v, check.Threshold);
            var template = $"Health check {check.Probe} of {key} failed";
            if (!healthy)
            {
                sink.TryWrite(new Signal($"health:{key}", $"{template}: {(value is { } r ? $"read {r:G}" : error)} (healthy when {ContractVerifier.Symbol(check.Comparator)} {check.Threshold:G})",
                    Severity.Error, now, MessageTemplate: template, Target: key, Labels: new Dictionary<string, string> { ["health_check"] = check.Probe }, ReportedBy: "engine"));
            }
            else if (state.Failing)
            {
                sink.TryWrite(new Signal($"health:{key}", $"{template}: passing again", Severity.Information, now, MessageTemplate: template, Target: key, ReportedBy: "engine", Resolved: true));
            }

            _state[key] = (now.AddSeconds(Math.Max(1, check.IntervalSeconds)), !healthy);
        }
    }
}
