using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Missions;
using Grace.Engine.Notifications;
using Grace.Engine.Snapshot;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Gate;

/// <summary>
/// The gate for a planned mission, run by its target's grain so that policy is decided once per
/// target in the whole cluster: blocked, deferred while the target is busy, or cleared by tier
/// (tier 2+ takes the safe-hold snapshot the approvers will see, and waits for them). A tier 0 or 1
/// mission waits for nobody, so it goes straight on to its action in the same turn of the grain:
/// policy is evaluated once and the clearance is committed with the intent (one commit, not two).
/// </summary>
public sealed class GateStage(
    IDbContextFactory<GraceDbContext> dbFactory,
    IOptionsMonitor<EngineOptions> options,
    IOptionsMonitor<CatalogOptions> catalog,
    PolicyGate gate,
    SnapshotService snapshots,
    ExecutorCatalog executors,
    ExecuteStage execute,
    MissionJournal journal,
    TimeProvider time)
{
    public async Task<StepOutcome> GateAsync(Guid missionId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (await MissionStore.LoadAsync(db, missionId, cancellationToken) is not { State: MissionState.Planned } mission)
        {
            return StepOutcome.Moved; // Someone else moved it; the mission grain looks again.
        }

        // A mission that will act in this turn reads its target's fence before policy counts what is
        // in flight (as the action's own step does), so its intent commit fails if another
        // activation committed an intent on the target since.
        var actsNow = mission.Tier <= 1 && !mission.Shadow;
        var fence = actsNow ? await db.TargetFences.SingleOrDefaultAsync(f => f.Target == mission.Target, cancellationToken) : null;
        var entry = journal.Begin(db, mission);
        return await GateAsync(db, entry, actsNow, fence, cancellationToken);
    }

    /// <summary>
    /// The gate's own safe-hold snapshot (for the shadow record or for the approvers) could not be
    /// taken: nothing will run, and the mission says why. Only these snapshots are answered here;
    /// anything else (policy, a cleared mission's action step) reaches the mission grain's retry
    /// rather than be recorded as something it is not.
    /// </summary>
    private static async Task<StepOutcome> RefusedAsync(MissionJournal.Entry entry, string forWhom, Exception ex, CancellationToken cancellationToken)
    {
        entry.Mission.StatusReason = ex.Message;
        entry.Record(PipelineStage.Snapshot, "refused", $"No safe-hold snapshot could be taken {forWhom}, so nothing will run: {ex.Message}", MissionState.Failed);
        await entry.SaveAsync(cancellationToken);
        return StepOutcome.Moved;
    }

    private async Task<StepOutcome> GateAsync(GraceDbContext db, MissionJournal.Entry entry, bool actsNow, TargetFence? fence, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;
        if (!catalog.CurrentValue.Playbooks.ContainsKey(mission.PlaybookKey))
        {
            entry.Record(PipelineStage.Gate, "blocked", $"Playbook '{mission.PlaybookKey}' is no longer configured.", MissionState.Blocked);
            await entry.SaveAsync(cancellationToken);
            return StepOutcome.Moved;
        }

        var decision = await gate.EvaluateAsync(db, mission, cancellationToken);
        switch (decision.Verdict)
        {
            case GateVerdict.Block:
                mission.StatusReason = decision.Reason;
                if (mission.Incident is { } blockedIncident)
                {
                    blockedIncident.Status = IncidentStatus.Open;
                }

                entry.Record(PipelineStage.Gate, "blocked", decision.Reason, MissionState.Blocked);
                await entry.SaveAsync(cancellationToken);
                return StepOutcome.Moved;
            case GateVerdict.Defer:
                if (mission.StatusReason != decision.Reason)
                {
                    mission.StatusReason = decision.Reason;
                    entry.Record(PipelineStage.Gate, "deferred", decision.Reason);
                    await entry.SaveAsync(cancellationToken);
                }

                return StepOutcome.TargetBusy;
        }

        mission.StatusReason = null;
        mission.DryRun = decision.DryRun;
        var now = time.GetUtcNow();
        if (mission.Shadow)
        {
            // Shadow: policy and the snapshot as for real, then what would have run is recorded and nothing runs.
            // No approval is asked for: people are not asked to approve what will not happen.
            Data.Entities.Snapshot row;
            SnapshotState shadowState;
            string would;
            try
            {
                (row, shadowState) = await snapshots.TakeAsync(db, mission, SnapshotService.ForShadow, cancellationToken);
                would = executors.Executor(mission.Action).Describe(snapshots.RequestFor(mission));
            }
            catch (Exception ex) when (ex is ActionRefusedException or InvalidOperationException)
            {
                return await RefusedAsync(entry, "for the shadow record", ex, cancellationToken);
            }

            var approvers = mission.Tier switch { 0 => "would run without approval", 1 => "would run and notify operators", 2 => "would wait for 1 approver", _ => "would wait for 2 distinct approvers" };
            mission.ShadowVerdict = ShadowVerdict.Pending;
            entry.Record(PipelineStage.Snapshot, "snapshot", $"Safe-hold snapshot (shadow): {shadowState.Summary}", data: new { snapshotId = row.Id });
            entry.Record(PipelineStage.Execute, "shadow",
                $"{decision.Reason} Tier {mission.Tier}: {approvers}. Shadow mode: would run {would}"
                + (mission.StepCount > 0 ? $" (step 1 of a {mission.StepCount}-step runbook)" : "")
                + ". Nothing ran. When people act on the incident, Grace records whether they agreed.",
                MissionState.ShadowRecorded, new { wouldRun = would, mission.Tier });
            await entry.SaveAsync(cancellationToken);
            return StepOutcome.Moved;
        }

        if (actsNow)
        {
            // Policy allowed it a moment ago in this same turn of the target's grain, where nothing
            // else can act on the target meanwhile: no second evaluation, no commit in between.
            entry.Record(PipelineStage.Gate, "cleared", mission.Tier == 0
                ? $"{decision.Reason} Tier 0: runs without approval."
                : $"{decision.Reason} Tier 1: runs now; operators are notified.", MissionState.Approved);
            if (mission.Tier == 1)
            {
                entry.AlsoIfItGoesOn(new OperatorNotification(now, mission.Id, $"Tier 1 action '{mission.PlaybookKey}' on '{mission.Target}' is running."));
            }

            return await execute.ActAsync(db, entry, fence, cancellationToken);
        }

        // Tier 2 and up: the safe-hold snapshot the approvers will see, and the approval they answer.
        SnapshotState state;
        try
        {
            (_, state) = await snapshots.TakeAsync(db, mission, SnapshotService.ForApproval, cancellationToken);
        }
        catch (Exception ex) when (ex is ActionRefusedException or InvalidOperationException)
        {
            return await RefusedAsync(entry, "for the approvers", ex, cancellationToken);
        }

        var required = mission.Tier >= 3 ? 2 : 1;
        var expires = now.AddMinutes(options.CurrentValue.ApprovalTimeoutMinutes);
        mission.Approval = new Approval
        {
            Id = Guid.CreateVersion7(now),
            MissionId = mission.Id,
            RequiredCount = required,
            RequestedBy = mission.RequestedBy,
            RequestedAt = now,
            ExpiresAt = expires,
            Status = ApprovalStatus.Pending,
        };
        // Added explicitly: a new row with its key already set would otherwise be taken for an existing one.
        db.Approvals.Add(mission.Approval);
        entry.Record(PipelineStage.Snapshot, "snapshot", $"Safe-hold snapshot for the approvers: {state.Summary}");
        entry.Record(PipelineStage.Gate, "awaiting-approval",
            $"{decision.Reason} Tier {mission.Tier}: waits for {required} distinct approver(s) until {expires:u}.", MissionState.AwaitingApproval);
        entry.Also(new ApprovalRequested(now, mission.Id, mission.PlaybookKey, mission.Target, mission.Tier, required, expires));
        await entry.SaveAsync(cancellationToken);
        return StepOutcome.Moved;
    }
}
