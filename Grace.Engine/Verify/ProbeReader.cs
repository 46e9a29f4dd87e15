using Grace.Engine.Cluster;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Verify;

/// <summary>One probe reading asked for: which probe, of which target, with which parameters, for which incident.</summary>
[GenerateSerializer, Immutable]
public sealed record ProbeCall(string Probe, string Target, Dictionary<string, string> Parameters, Guid? IncidentId);

/// <summary>A probe's value, or why there is none.</summary>
[GenerateSerializer, Immutable]
public sealed record ProbeReading(double? Value, string? Error);

/// <summary>
/// Reads a probe where it can be read: here, unless the target lives on another instance's
/// machine (a process, a file), in which case its target grain reads it there.
/// </summary>
public sealed class ProbeReader(IServiceProvider services, TargetPlacement placement, TargetRegistry targets, ActionResilience resilience)
{
    // Resolved on first use, not injected: executors that read probes (a restart waiting for health) are part of the catalog.
    private ExecutorCatalog Executors => services.GetRequiredService<ExecutorCatalog>();

    public Task<ProbeReading> ReadAsync(ProbeCall call, CancellationToken cancellationToken)
    {
        if (!placement.Owns(call.Target))
        {
            return services.GetRequiredService<IGrainFactory>().GetGrain<ITargetGrain>(call.Target).ReadProbeAsync(call);
        }

        return ReadHereAsync(call, cancellationToken);
    }

    /// <summary>Reads the probe on this machine, through the target's probe pipeline; a failure is a reading without a value.</summary>
    public async Task<ProbeReading> ReadHereAsync(ProbeCall call, CancellationToken cancellationToken)
    {
        try
        {
            var probe = Executors.Probe(call.Probe);
            var request = new ProbeRequest(targets.Resolve(call.Target), new Dictionary<string, string>(call.Parameters, StringComparer.OrdinalIgnoreCase), call.IncidentId);
            var value = await resilience.ForProbe(call.Target).ExecuteAsync(ct => new ValueTask<double>(probe.ReadAsync(request, ct)), cancellationToken);
            return new ProbeReading(value, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new ProbeReading(null, ex.Message);
        }
    }
}
