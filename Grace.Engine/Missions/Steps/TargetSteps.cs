namespace Grace.Engine.Missions.Steps;

/// <summary>
/// Planned: a contract that already held at planning is dealt with first (refused, or waited on with
/// a timer); then the gate runs on the target's grain (policy, tier, the approvers' snapshot).
/// </summary>
public sealed class PlannedStep(Plan.VacuousContracts vacuous) : IMissionStep
{
    public async Task<StepOutcome> RunAsync(MissionStepContext context, CancellationToken cancellationToken) =>
        await vacuous.CheckAsync(context.MissionId, context.Position.ContractAtPlan, cancellationToken) ?? await context.Target.GateAsync(context.MissionId);
}

/// <summary>Approved: the action runs on the target's grain, one at a time per target in the cluster.</summary>
public sealed class ApprovedStep : IMissionStep
{
    public Task<StepOutcome> RunAsync(MissionStepContext context, CancellationToken cancellationToken) => context.Target.ExecuteAsync(context.MissionId);
}

/// <summary>
/// Executing, found by a step: the action started on an instance that stopped (or is still
/// running on the target's grain, in which case this waits behind it). Verified, never re-run.
/// </summary>
public sealed class ExecutingStep : IMissionStep
{
    public Task<StepOutcome> RunAsync(MissionStepContext context, CancellationToken cancellationToken) => context.Target.RecoverAsync(context.MissionId);
}

/// <summary>Compensating: a runbook step failed; the steps done before it are undone one by one, last first, each on its own target's grain.</summary>
public sealed class CompensatingStep : IMissionStep
{
    public Task<StepOutcome> RunAsync(MissionStepContext context, CancellationToken cancellationToken) => context.Target.CompensateAsync(context.MissionId);
}
