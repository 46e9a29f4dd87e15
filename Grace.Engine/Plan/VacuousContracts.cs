using System.Globalization;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Missions;
using Grace.Engine.Verify;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Plan;

/// <summary>
/// A contract that already holds before the action proves nothing: the mission's success would be
/// the world's, not the playbook's. The planner records what the probe said; this decides, before
/// the gate, by <c>Grace:Autonomy:VacuousContract</c>: <c>Refuse</c> blocks the mission at once;
/// <c>Wait</c> reads the probe again on the mission grain's timer (no worker held) until the
/// contract stops holding (then the gate runs) or the wait's deadline passes (then it is blocked).
/// </summary>
public sealed class VacuousContracts(
    IDbContextFactory<GraceDbContext> dbFactory,
    IOptionsMonitor<AutonomyOptions> options,
    ProbeReader probes,
    MissionJournal journal,
    TimeProvider time)
{
    /// <summary>True when a reading already meets the contract.</summary>
    public static bool Holds(ActionContract contract, double? value) => value is { } v && ContractVerifier.Holds(contract.Comparator, v, contract.Threshold);

    /// <summary>What the planner writes on the plan when the contract held at planning.</summary>
    public string PlanNote(ActionContract contract, double value) =>
        FormattableString.Invariant($" The contract already holds ({contract.Probe} = {value:G}) before any action: success would prove nothing ")
        + options.CurrentValue.VacuousContract switch
        {
            VacuousContractPolicy.Wait => FormattableString.Invariant($"(Grace:Autonomy:VacuousContract = Wait: it waits up to {options.CurrentValue.VacuousWaitSeconds} s for the contract to stop holding)."),
            VacuousContractPolicy.Act => "(Grace:Autonomy:VacuousContract = Act: it acts anyway, and learning will not count it as a success).",
            _ => "(Grace:Autonomy:VacuousContract = Refuse).",
        };

    /// <summary>True when a planned mission with this reading at planning may go to the gate with nothing to check first.</summary>
    public bool MayGate(ContractPrecheck atPlan) => options.CurrentValue.VacuousContract == VacuousContractPolicy.Act || atPlan != ContractPrecheck.AlreadyHeld;

    /// <summary>
    /// For a planned mission whose contract held at planning: the outcome of this step (blocked, or
    /// wait and look again), or null when the gate may run.
    /// </summary>
    public async Task<StepOutcome?> CheckAsync(Guid missionId, ContractPrecheck atPlan, CancellationToken cancellationToken)
    {
        var policy = options.CurrentValue;
        if (MayGate(atPlan))
        {
            // Under Act it is said on the plan and learning will not count it; a contract that did not
            // hold at planning has nothing to wait for. Either way nothing to look up: the gate may run
            // (this is on every tier-0 mission's way to its action).
            return null;
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (await MissionStore.LoadAsync(db, missionId, cancellationToken) is not { State: MissionState.Planned, ContractAtPlan: ContractPrecheck.AlreadyHeld } mission)
        {
            return null;
        }

        var contract = mission.Contract!;
        var entry = journal.Begin(db, mission);
        if (policy.VacuousContract == VacuousContractPolicy.Refuse)
        {
            await BlockAsync(entry, string.Create(CultureInfo.InvariantCulture,
                $"Refused: the contract ({contract.Description}) already held before any action (baseline {contract.BaselineValue:G}), so acting would prove nothing (Grace:Autonomy:VacuousContract = Refuse). Nothing ran."), cancellationToken);
            return StepOutcome.Moved;
        }

        var reading = await probes.ReadAsync(ContractVerifier.CallFor(contract, mission.IncidentId), cancellationToken);
        var now = time.GetUtcNow();
        if (reading.Value is { } value && !Holds(contract, value))
        {
            mission.ContractAtPlan = ContractPrecheck.StoppedHolding;
            mission.StatusReason = null;
            contract.BaselineValue = value;
            entry.Record(PipelineStage.Plan, "contract-stopped-holding", string.Create(CultureInfo.InvariantCulture,
                $"The contract no longer holds ({contract.Probe} = {value:G}): the action can prove something now, and the mission goes on to the gate. New baseline {value:G}."),
                data: new { observed = value });
            await entry.SaveAsync(cancellationToken);
            return null;
        }

        var deadline = mission.CreatedAt.AddSeconds(policy.VacuousWaitSeconds);
        if (now >= deadline)
        {
            await BlockAsync(entry, string.Create(CultureInfo.InvariantCulture,
                $"Refused: the contract ({contract.Description}) held for the whole wait of {policy.VacuousWaitSeconds} s (last reading {(reading.Value is { } last ? last.ToString("G", CultureInfo.InvariantCulture) : reading.Error)}), so acting would prove nothing. Nothing ran."), cancellationToken);
            return StepOutcome.Moved;
        }

        var waiting = string.Create(CultureInfo.InvariantCulture, $"The contract already holds: waiting until {deadline:u} for it to stop holding (Grace:Autonomy:VacuousContract = Wait).");
        if (mission.StatusReason != waiting)
        {
            mission.StatusReason = waiting;
            entry.Record(PipelineStage.Plan, "vacuous-wait", waiting);
            await entry.SaveAsync(cancellationToken);
        }

        var next = now.AddSeconds(policy.VacuousRecheckSeconds);
        return StepOutcome.WaitUntil(next < deadline ? next : deadline);
    }

    private static async Task BlockAsync(MissionJournal.Entry entry, string reason, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;
        mission.StatusReason = ColumnLimits.Shorten(reason, ColumnLimits.ShortText);
        if (mission.Incident is { } incident)
        {
            incident.Status = IncidentStatus.Open;
        }

        entry.Record(PipelineStage.Gate, "vacuous-contract", reason, MissionState.Blocked);
        await entry.SaveAsync(cancellationToken);
    }
}
