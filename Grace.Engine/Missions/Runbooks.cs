using Grace.Data.Entities;
using Grace.Engine.Verify;

namespace Grace.Engine.Missions;

/// <summary>
/// How a runbook mission moves between its steps. The mission's <c>Action</c>, <c>Target</c>,
/// <c>Parameters</c> and contract are always those of the step it is on, so every stage (gate,
/// snapshot, action, verification, rollback) works on a step exactly as on a one-action playbook,
/// and each step runs on its own target's grain.
/// </summary>
public static class Runbooks
{
    /// <summary>The step the mission is on, or null for a playbook of one action.</summary>
    public static MissionStep? CurrentStep(Mission mission) =>
        mission.StepCount > 0 ? mission.Steps.FirstOrDefault(s => s.Index == mission.StepIndex) : null;

    /// <summary>"Step 2 of 3 (drain): " for a runbook, empty otherwise.</summary>
    public static string Label(Mission mission) => CurrentStep(mission) is { } step ? $"Step {step.Index + 1} of {mission.StepCount} ({step.Name}): " : "";

    /// <summary>Whether steps remain after the current one.</summary>
    public static bool HasNextStep(Mission mission) => mission.StepCount > 0 && mission.StepIndex < mission.StepCount - 1;

    /// <summary>Points the mission at step <paramref name="index"/>: its action, target and parameters.</summary>
    public static MissionStep MoveTo(Mission mission, int index)
    {
        var step = mission.Steps.Single(s => s.Index == index);
        mission.StepIndex = index;
        mission.Action = step.Action;
        mission.Target = step.Target;
        mission.Parameters = step.Parameters;
        return step;
    }

    /// <summary>Moves to the next step and gives the contract that step's promise (a fresh verdict, no baseline).</summary>
    public static MissionStep Advance(Mission mission, string unit)
    {
        var step = MoveTo(mission, mission.StepIndex + 1);
        var contract = mission.Contract!;
        contract.Probe = step.Probe;
        contract.Target = step.ProbeTarget;
        contract.ProbeParameters = step.ProbeParameters;
        contract.Comparator = step.Comparator;
        contract.Threshold = step.Threshold;
        contract.DeadlineSeconds = step.DeadlineSeconds;
        contract.Deadline = null;
        contract.BaselineValue = null;
        contract.ObservedValue = null;
        contract.VerifiedAt = null;
        contract.Verdict = ContractVerdict.Pending;
        contract.Description = $"{step.Probe} of {step.ProbeTarget} {ContractVerifier.Symbol(step.Comparator)} {step.Threshold:G} {unit} within {step.DeadlineSeconds} s of the action".Replace("  ", " ", StringComparison.Ordinal);
        return step;
    }

    /// <summary>The final state of a runbook whose steps were undone: rolled back if every undo worked, failed otherwise.</summary>
    public static MissionState AfterCompensation(Mission mission) =>
        mission.Steps.Any(s => s.State is RunbookStepState.Failed or RunbookStepState.CompensationFailed) ? MissionState.Failed : MissionState.RolledBack;

    /// <summary>"3 restart-api": the step that failed, for learning; null when none did.</summary>
    public static string? FailedStep(Mission mission) =>
        mission.Steps.Where(s => s.State is RunbookStepState.RolledBack or RunbookStepState.Failed).OrderBy(s => s.Index)
            .Select(s => $"{s.Index + 1} {s.Name}").FirstOrDefault();
}
