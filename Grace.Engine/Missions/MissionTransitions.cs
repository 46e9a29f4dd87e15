using Grace.Data.Entities;
using Grace.Engine.Missions.Steps;

namespace Grace.Engine.Missions;

/// <summary>
/// The transition table: which step moves a mission out of each state. The groups of states the
/// engine reasons about ("in flight", "terminal") are defined once, in <see cref="MissionStates"/>.
/// </summary>
public sealed class MissionTransitions(
    PlannedStep planned,
    AwaitingApprovalStep awaitingApproval,
    ApprovedStep approved,
    ExecutingStep executing,
    VerifyingStep verifying,
    CompensatingStep compensating,
    EndedStep ended)
{
    public IMissionStep StepFor(MissionState state) => state switch
    {
        MissionState.Planned => planned,
        MissionState.AwaitingApproval => awaitingApproval,
        MissionState.Approved => approved,
        MissionState.Executing => executing,
        MissionState.Verifying => verifying,
        MissionState.Compensating => compensating,
        _ when state.IsTerminal() => ended,
        _ => throw new InvalidOperationException($"No step moves a mission out of {state}."),
    };
}
