using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Verify;
using Polly.CircuitBreaker;

namespace Grace.Engine.Execute;

/// <summary>
/// <c>breaker.reset</c>: closes the circuit breaker of Grace's outbound calls to a target, after
/// the target recovered, instead of waiting out the break. Reopening a breaker by hand would only
/// block calls, so there is no rollback. An approval holds for the breaker state the approvers
/// saw: a breaker that closed (or opened) by itself since needs a new decision.
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
        CircuitState? circuit = resilience.TryGetBreaker(request.Target.Key, out var provider, out _) ? provider.CircuitState : null;
        var state = circuit?.ToString() ?? "none yet";
        var value = new BreakerValue(request.Target.Key, circuit);
        return Task.FromResult(Consent.Snapshot(JsonSerializer.Serialize(new { state }), $"Breaker of '{request.Target.Key}': {state}.", value, value.Describe()));
    }

    public string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<BreakerValue>(approved) is { } was && Consent.Read<BreakerValue>(current) is { } now
            ? $"the breaker of '{now.Target}' went from {was.State?.ToString() ?? "none"} to {now.State?.ToString() ?? "none"} since the approvers saw it"
            : Consent.Compare(approved, current);

    /// <summary>What resetting a breaker depends on: its state (none before any call).</summary>
    internal sealed record BreakerValue(string Target, CircuitState? State)
    {
        public string Describe() => $"breaker of '{Target}' {State?.ToString() ?? "not created yet"}";
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
