using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Cluster;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Plan;
using Grace.Engine.Verify;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Targets;

/// <summary>
/// One target, once in the whole cluster (on its own machine when it is host-bound). Everything
/// that decides or changes what happens to the target runs here one call at a time: planning,
/// the gate, the action, the end of verification. Probe readings may run alongside.
/// </summary>
public interface ITargetGrain : IGrainWithStringKey
{
    /// <summary>
    /// Writes a mission for a diagnosed incident, or joins it to the one already under way. Returns the
    /// new mission's id (the caller wakes its mission grain); a mission with nothing to check first
    /// is gated in this grain's next turn.
    /// </summary>
    Task<Guid?> PlanAsync(PlanRequest request);

    /// <summary>Policy and tier for a planned mission.</summary>
    Task<StepOutcome> GateAsync(Guid missionId);

    /// <summary>The action of an approved mission.</summary>
    Task<StepOutcome> ExecuteAsync(Guid missionId);

    /// <summary>A mission whose action was interrupted: verified, never run again.</summary>
    Task<StepOutcome> RecoverAsync(Guid missionId);

    /// <summary>Ends a verification: commit, or roll back from the snapshot.</summary>
    Task<StepOutcome> ConcludeAsync(Guid missionId, ContractReading reading);

    /// <summary>Undoes a runbook step done on this target, after a later step failed.</summary>
    Task<StepOutcome> CompensateAsync(Guid missionId);

    /// <summary>Reads a probe of this target on its machine.</summary>
    [AlwaysInterleave]
    Task<ProbeReading> ReadProbeAsync(ProbeCall call);

    /// <summary>Keeps the target's health check running (the sweep calls it, so a failover restarts it).</summary>
    [AlwaysInterleave, OneWay]
    Task KeepCheckingAsync();

    /// <summary>A mission on this target ended: missions that waited for it may go.</summary>
    [OneWay]
    Task MissionEndedAsync(Guid missionId);
}

[GrainType(GraceGrainTypes.Target), InstancePlacement]
public sealed class TargetGrain(
    MissionPlanner planner,
    GateStage gate,
    ExecuteStage execute,
    ConclusionStage conclusion,
    CompensationStage compensation,
    ProbeReader probes,
    HealthChecker health,
    VacuousContracts vacuous,
    IOptionsMonitor<CatalogOptions> catalog,
    ILogger<TargetGrain> logger) : Grain, ITargetGrain
{
    // In the order they were first told to wait: the target goes to the longest-waiting mission.
    private readonly List<Guid> _waiting = [];
    // Missions planned here whose gate is this grain's next turn, as the planner committed them.
    private readonly Dictionary<Guid, PlannedMission> _planned = [];
    private IGrainTimer? _healthTimer;
    private HealthChecker.State _health = new(0);

    private string Key => this.GetPrimaryKeyString();

    public async Task<Guid?> PlanAsync(PlanRequest request)
    {
        if (await planner.PlanKeepingAsync(request, CancellationToken.None) is not { } planned)
        {
            return null;
        }

        var missionId = planned.Mission.Id;
        if (!vacuous.MayGate(planned.Mission.ContractAtPlan))
        {
            // Its contract held already: the mission grain deals with that first.
            await planned.DisposeAsync();
            return missionId;
        }

        // The gate runs in this grain's next turn (a message to itself, sent before the planning service
        // is answered and wakes the mission grain, so it is ahead of that grain's own call to gate; per-
        // target order holds), on the mission as the planner committed it: nothing waits for the mission
        // grain's wake, its position read, its hop here or a reload of the mission (ADR 0029, "The
        // planner hands the gate what it has"). The planning service does not wait for the action. The
        // mission grain's own call to gate comes after it and finds the mission moved on. If this
        // activation is lost before that turn, the mission is still Planned and its mission grain gates it.
        _planned[missionId] = planned;
        this.AsReference<ITargetGrain>().GateAsync(missionId).Ignore();
        return missionId;
    }

    public Task<StepOutcome> GateAsync(Guid missionId) => Remember(missionId, _planned.Remove(missionId, out var planned)
        ? GatePlannedAsync(planned)
        : gate.GateAsync(missionId, CancellationToken.None));

    /// <summary>The gate of a mission just planned here, on the mission as the planner left it.</summary>
    private async Task<StepOutcome> GatePlannedAsync(PlannedMission planned)
    {
        await using (planned)
        {
            return await gate.GateAsync(planned.Db, planned.Mission, CancellationToken.None);
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Gates that will not run here: their missions stay Planned, and their mission grains gate them.
        foreach (var planned in _planned.Values)
        {
            await planned.DisposeAsync();
        }

        _planned.Clear();
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    public Task<StepOutcome> ExecuteAsync(Guid missionId) => Remember(missionId, execute.ExecuteAsync(missionId, CancellationToken.None));

    public Task<StepOutcome> RecoverAsync(Guid missionId) => execute.RecoverAsync(missionId, CancellationToken.None);

    public Task<StepOutcome> ConcludeAsync(Guid missionId, ContractReading reading) => conclusion.ConcludeAsync(missionId, reading, CancellationToken.None);

    public Task<StepOutcome> CompensateAsync(Guid missionId) => compensation.CompensateAsync(missionId, CancellationToken.None);

    public Task<ProbeReading> ReadProbeAsync(ProbeCall call) => probes.ReadHereAsync(call, CancellationToken.None);

    public Task MissionEndedAsync(Guid missionId)
    {
        _waiting.Remove(missionId);
        // One mission's end frees one place: waking every waiter would let them race for it and the
        // order would be luck. The woken one either takes the target or ends (a cooldown, a block),
        // and its end wakes the next; a wake lost with an instance is made up by the mission's own timer.
        if (_waiting.Count > 0)
        {
            var next = _waiting[0];
            _waiting.RemoveAt(0);
            GrainFactory.GetGrain<IMissionGrain>(next).WakeAsync(WakeReason.TargetFree).Ignore();
        }

        return Task.CompletedTask;
    }

    public Task KeepCheckingAsync()
    {
        if (_healthTimer is null && catalog.CurrentValue.Targets.TryGetValue(Key, out var target) && target.HealthCheck is { } check && health.CanCheck(Key))
        {
            // The first reading one interval after activation: a target that just moved here (or a
            // process its instance is still starting) gets a moment before it is judged.
            var every = TimeSpan.FromSeconds(Math.Max(1, check.IntervalSeconds));
            _healthTimer = this.RegisterGrainTimer(CheckHealthAsync, new GrainTimerCreationOptions(every, every) { Interleave = true, KeepAlive = true });
            logger.LogDebug("Health check of {Target} runs here every {Seconds} s", Key, every.TotalSeconds);
        }

        return Task.CompletedTask;
    }

    private async Task CheckHealthAsync(CancellationToken cancellationToken)
    {
        try
        {
            _health = await health.CheckOnceAsync(Key, _health, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "The health check of {Target} failed to run", Key);
        }
    }

    /// <summary>A mission told to wait for this target is woken when a mission here ends (and by its own timer, if this activation is lost).</summary>
    private async Task<StepOutcome> Remember(Guid missionId, Task<StepOutcome> step)
    {
        var outcome = await step;
        if (outcome.Next == StepNext.WaitForTarget && !_waiting.Contains(missionId))
        {
            _waiting.Add(missionId);
        }

        return outcome;
    }
}
