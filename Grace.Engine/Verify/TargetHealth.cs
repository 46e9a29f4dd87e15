using Grace.Engine.Capture;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
using Grace.Engine.Targets;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Engine.Verify;

/// <summary>One reading of a target's health check.</summary>
public sealed record HealthReading(bool Healthy, double? Value, string? Error, string Unit = "")
{
    /// <summary>"read 503", "read 68 MiB", or the error that stopped the probe.</summary>
    public string Observed => Value is { } v ? $"read {HumanFormat.Value(v, Unit)}" : Error ?? "no reading";
}

/// <summary>
/// Reads a target's health check (<c>Grace:Targets:&lt;key&gt;:HealthCheck</c>) once, through the
/// target's probe pipeline. The periodic monitor uses it, and so does a restart that waits for the
/// service it started to be healthy.
/// </summary>
public sealed class TargetHealth(IServiceProvider services, TargetRegistry targets, ActionResilience resilience)
{
    // Resolved on first use, not injected: the restart executor needs this service, and the executor catalog holds that executor.
    private ExecutorCatalog Executors => services.GetRequiredService<ExecutorCatalog>();

    public async Task<HealthReading> CheckAsync(string targetKey, HealthCheckOptions check, CancellationToken cancellationToken)
    {
        var probe = Executors.Probe(check.Probe);
        try
        {
            var value = await resilience.ForProbe(targetKey).ExecuteAsync(
                ct => new ValueTask<double>(probe.ReadAsync(new ProbeRequest(targets.Resolve(targetKey), check.Parameters, null), ct)), cancellationToken);
            return new HealthReading(ContractVerifier.Holds(check.Comparator, value, check.Threshold), value, null, probe.Unit);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthReading(false, null, ex.Message);
        }
    }

    /// <summary>"http.status is less than 400", "directory.bytes is less than 50 MiB", for messages.</summary>
    public static string Rule(HealthCheckOptions check, string? unit = null) => $"{check.Probe} is {HumanFormat.Rule(check.Comparator, check.Threshold, unit)}";
}
