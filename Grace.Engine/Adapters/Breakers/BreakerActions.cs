using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Verify;
using Microsoft.Extensions.DependencyInjection;
using Polly.CircuitBreaker;

namespace Grace.Engine.Adapters.Breakers;

/// <summary>
/// <c>breaker.reset</c>: closes the circuit breaker of Grace's outbound calls to a target (any
/// kind), after the target recovered, instead of waiting out the break. Reopening a breaker by hand
/// would only block calls, so there is no rollback. An approval holds for the breaker state the
/// approvers saw: a breaker that closed (or opened) by itself since needs a new decision.
/// </summary>
public sealed class ResetBreakerAction(TargetBreakers breakers) : RemediationAction<NoParameters>
{
    public override string Action => "breaker.reset";
    public override IReadOnlySet<TargetKind> TargetKinds => KindSets.AnyKind;
    public override bool CanRollback => false;

    protected override string Describe(ActionRequest request, NoParameters p) => $"Closes the circuit breaker of Grace's calls to '{request.Target.Key}'.";

    protected override Task<SnapshotState> SnapshotAsync(ActionRequest request, NoParameters p, CancellationToken cancellationToken)
    {
        CircuitState? circuit = breakers.TryGet(request.Target.Key, out var provider, out _) ? provider.CircuitState : null;
        var state = circuit?.ToString() ?? "none yet";
        var value = new BreakerValue(request.Target.Key, circuit);
        return Task.FromResult(Consent.Snapshot(JsonSerializer.Serialize(new { state }), $"Breaker of '{request.Target.Key}': {state}.", value, value.Describe()));
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<BreakerValue>(approved) is { } was && Consent.Read<BreakerValue>(current) is { } now
            ? $"the breaker of '{now.Target}' went from {was.State?.ToString() ?? "none"} to {now.State?.ToString() ?? "none"} since the approvers saw it"
            : Consent.Compare(approved, current);

    /// <summary>What resetting a breaker depends on: its state (none before any call).</summary>
    internal sealed record BreakerValue(string Target, CircuitState? State)
    {
        public string Describe() => $"breaker of '{Target}' {State?.ToString() ?? "not created yet"}";
    }

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, NoParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        if (!breakers.TryGet(request.Target.Key, out var provider, out var control))
        {
            return new ActionResult($"'{request.Target.Key}' has no breaker yet: nothing to reset.");
        }

        var before = provider.CircuitState;
        await control.CloseAsync(cancellationToken);
        return new ActionResult($"Breaker of '{request.Target.Key}': {before} → {provider.CircuitState}.");
    }
}

/// <summary><c>breaker.state</c>: 0 closed, 1 open, 2 half-open, 3 isolated (a target never called reads 0).</summary>
public sealed class BreakerStateProbe(TargetBreakers breakers) : Probe<NoParameters>
{
    public override string Key => "breaker.state";
    public override string Unit => "state";
    public override IReadOnlySet<TargetKind> TargetKinds => KindSets.AnyKind;

    protected override Task<double> ReadAsync(ProbeRequest request, NoParameters p, CancellationToken cancellationToken) =>
        Task.FromResult(breakers.TryGet(request.Target.Key, out var provider, out _) ? (double)(int)provider.CircuitState : (double)(int)CircuitState.Closed);
}

public static class BreakerExtensions
{
    /// <summary>The circuit breakers of Grace's own calls to targets: reset them, read them.</summary>
    public static IServiceCollection AddBreakerActions(this IServiceCollection services)
    {
        services.AddSingleton<IRemediationExecutor, ResetBreakerAction>();
        services.AddSingleton<IProbe, BreakerStateProbe>();
        return services;
    }
}
