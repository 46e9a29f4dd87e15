using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Verify;
using Polly.CircuitBreaker;

namespace Grace.Engine.Execute;

/// <summary>
/// <c>breaker.reset</c>: closes the circuit breaker of Grace's outbound calls to a target, after
/// the target recovered, instead of waiting out the break. Reopening a breaker by hand would only
/// block calls, so there is no rollback.
/// </summary>
public sealed class BreakerResetExecutor(ActionResilience resilience) : IRemediationExecutor
{
    public string Action => "breaker.reset";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = Enum.GetValues<TargetKind>().ToHashSet();
    public bool CanRollback => false;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters) => [];

    public string Describe(ActionRequest request) => $"Closes the circuit breaker of Grace's calls to '{request.Target.Key}'.";

    public Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var state = resilience.TryGetBreaker(request.Target.Key, out var provider, out _) ? provider.CircuitState.ToString() : "none yet";
        return Task.FromResult(new SnapshotState(JsonSerializer.Serialize(new { state }), $"Breaker of '{request.Target.Key}': {state}.", request.Target.Key));
    }

    public async Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        if (!resilience.TryGetBreaker(request.Target.Key, out var provider, out var control))
        {
            return new ActionResult($"'{request.Target.Key}' has no breaker yet: nothing to reset.");
        }

        var before = provider.CircuitState;
        await control.CloseAsync(cancellationToken);
        return new ActionResult($"Breaker of '{request.Target.Key}': {before} → {provider.CircuitState}.");
    }

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) =>
        throw new NotSupportedException("A closed breaker is not reopened by hand.");
}

/// <summary><c>breaker.state</c>: 0 closed, 1 open, 2 half-open, 3 isolated (a target never called reads 0).</summary>
public sealed class BreakerStateProbe(ActionResilience resilience) : IProbe
{
    public string Key => "breaker.state";
    public string Unit => "state";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = Enum.GetValues<TargetKind>().ToHashSet();

    public Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(resilience.TryGetBreaker(request.Target.Key, out var provider, out _) ? (double)(int)provider.CircuitState : (double)(int)CircuitState.Closed);
}
