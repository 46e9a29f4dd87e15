using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Cluster;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Snapshot;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Registry;

namespace Grace.Engine.Execute;

/// <summary>
/// Runs an approved mission's action, on its target's grain (so one action per target runs in the
/// whole cluster): policy again, the safe-hold snapshot (void the approval if the target drifted),
/// the intent committed behind the target's fence, the real action, and its result recorded even
/// if the database is away for a while. Bookkeeping that fails never takes the rollback path.
/// </summary>
public sealed class ExecuteStage(
    IDbContextFactory<GraceDbContext> dbFactory,
    PolicyGate gate,
    SnapshotService snapshots,
    ExecutorCatalog executors,
    ActionResilience resilience,
    Rollbacks rollbacks,
    Verify.Benchmarks.BenchmarkStage benchmarks,
    MissionJournal journal,
    GraceInstance instance,
    ResiliencePipelineProvider<string> pipelines,
    TimeProvider time,
    ILogger<ExecuteStage> logger)
{
    /// <summary>The Polly pipeline that keeps retrying a record of what already happened while the database is away.</summary>
    public const string BookkeepingPipeline = "grace:bookkeeping";

    public async Task<StepOutcome> ExecuteAsync(Guid missionId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        // The fence is read before policy counts what is in flight, so the intent commit fails if
        // any other activation committed an intent on this target since.
        var mission = await MissionStore.LoadAsync(db, missionId, cancellationToken);
        if (mission is not { State: MissionState.Approved })
        {
            return StepOutcome.Moved;
        }

        var fence = await db.TargetFences.SingleOrDefaultAsync(f => f.Target == mission.Target, cancellationToken);
        var entry = journal.Begin(db, mission);

        // Policy again, right before acting: the kill switch may have been engaged, or another
        // mission may have run on the target, while this one waited for its approvers.
        var decision = await gate.EvaluateAsync(db, mission, cancellationToken, beforeAction: true);
        if (decision.Verdict == GateVerdict.Block)
        {
            mission.StatusReason = decision.Reason;
            entry.Record(PipelineStage.Gate, "blocked", $"{decision.Reason} Nothing ran.", MissionState.Blocked);
            await entry.SaveAsync(cancellationToken);
            return StepOutcome.Moved;
        }

        if (decision.Verdict == GateVerdict.Defer)
        {
            return StepOutcome.TargetBusy;
        }

        return await ActAsync(db, entry, fence, cancellationToken);
    }

    /// <summary>
    /// The action itself, once policy has allowed it in this same turn of the target's grain: the
    /// safe-hold snapshot, the intent committed behind <paramref name="fence"/> (read before policy
    /// counted what is in flight), the action and its result. The gate calls this directly for a
    /// tier 0 or 1 mission, so its clearance and the intent are one commit and policy runs once.
    /// </summary>
    public async Task<StepOutcome> ActAsync(GraceDbContext db, MissionJournal.Entry entry, TargetFence? fence, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;
        var executor = executors.Executor(mission.Action);
        ActionRequest request;
        SnapshotState state;
        Data.Entities.Snapshot snapshotRow;
        try
        {
            request = snapshots.RequestFor(mission);
            // Safe-hold right before acting; if the state moved since the approvers saw it, their approval is void.
            (snapshotRow, state) = await snapshots.TakeAsync(db, mission, SnapshotService.PreExecution, cancellationToken);
        }
        catch (Exception ex) when (ex is ActionRefusedException or InvalidOperationException)
        {
            mission.StatusReason = ex.Message;
            entry.Record(PipelineStage.Snapshot, "refused", $"No safe-hold snapshot could be taken, so nothing ran: {ex.Message}", MissionState.Failed);
            await entry.SaveAsync(cancellationToken);
            return StepOutcome.Moved;
        }

        var label = Runbooks.Label(mission);
        entry.Record(PipelineStage.Snapshot, "snapshot", $"{label}Safe-hold snapshot: {state.Summary}", data: new { snapshotId = snapshotRow.Id });
        // The approvers saw the first step's target; later steps of a runbook act on what the earlier ones left.
        if (mission.StepIndex == 0 && mission.Approval is { Status: ApprovalStatus.Approved } approval)
        {
            var approvedRow = await db.Snapshots.AsNoTracking()
                .Where(s => s.MissionId == mission.Id && s.Purpose == SnapshotService.ForApproval)
                .OrderByDescending(s => s.TakenAt).FirstOrDefaultAsync(cancellationToken);
            if (approvedRow is not null && SnapshotService.Read(approvedRow).DriftKey != state.DriftKey)
            {
                approval.Status = ApprovalStatus.Voided;
                approval.ClosedAt = time.GetUtcNow();
                mission.StatusReason = "The target changed after the approval; the approval is void.";
                entry.Record(PipelineStage.Gate, "voided",
                    $"The target changed since the approvers saw it: {executor.DescribeDrift(SnapshotService.Read(approvedRow), state)}. The approval is void and nothing ran.",
                    MissionState.Blocked);
                await entry.SaveAsync(cancellationToken);
                return StepOutcome.Moved;
            }
        }

        if (mission.DryRun)
        {
            entry.Record(PipelineStage.Execute, "dry-run", $"Dry run: would run {executor.Describe(request)}", MissionState.DryRunCompleted);
            await entry.SaveAsync(cancellationToken);
            return StepOutcome.Moved;
        }

        await benchmarks.SampleBeforeAsync(db, entry, cancellationToken);

        // The intent is committed before the action: after a crash the mission is verified, not re-run.
        var now = time.GetUtcNow();
        mission.ExecutedAt ??= now; // The first action of a runbook: cooldowns and learning count from it.
        mission.Instance = instance.Name;
        if (Runbooks.CurrentStep(mission) is { } step)
        {
            step.State = RunbookStepState.Running;
            step.StartedAt = now;
        }

        if (fence is null)
        {
            fence = new TargetFence { Target = mission.Target };
            db.TargetFences.Add(fence);
        }

        fence.LastMissionId = mission.Id;
        fence.LastIntentAt = now;
        entry.Record(PipelineStage.Execute, "intent", $"{label}About to run on {instance.Name}: {executor.Describe(request)}", MissionState.Executing);
        try
        {
            await entry.SaveAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex is DbUpdateConcurrencyException || DatabaseErrors.IsUniqueViolation(ex))
        {
            // Another activation committed an intent on this target, or moved this mission, first:
            // its decision stands and this one runs nothing.
            logger.LogWarning("Mission {MissionId} did not act on {Target}: another activation committed first", mission.Id, mission.Target);
            return StepOutcome.Moved;
        }

        ActionResult result;
        try
        {
            result = await resilience.ForAction(mission.Target).ExecuteAsync(
                ct => new ValueTask<ActionResult>(executor.ExecuteAsync(request, state, ct)), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            mission.StatusReason = ex.Message;
            entry.Record(PipelineStage.Execute, ex is ActionRefusedException ? "refused" : "failed", $"{label}The action failed: {ex.Message}",
                data: new { error = ex.GetType().Name, ex.Message });
            await rollbacks.RollbackAsync(entry, executor, request, state, "the action failed", cancellationToken);
            await SaveWhatHappenedAsync(entry, cancellationToken);
            return StepOutcome.Moved;
        }

        mission.Contract!.Deadline = time.GetUtcNow().AddSeconds(mission.Contract.DeadlineSeconds);
        entry.Record(PipelineStage.Execute, "executed", label + result.Message, MissionState.Verifying, result.Data);
        await SaveWhatHappenedAsync(entry, cancellationToken);
        return StepOutcome.Moved;
    }

    /// <summary>
    /// A mission found executing: its action started (or ran) on an instance that stopped. It is
    /// never run again; its effect is verified instead. Run on the target's grain, so it waits
    /// behind an action still running there.
    /// </summary>
    public async Task<StepOutcome> RecoverAsync(Guid missionId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (await MissionStore.LoadAsync(db, missionId, cancellationToken) is not { State: MissionState.Executing } mission)
        {
            return StepOutcome.Moved;
        }

        mission.Contract!.Deadline ??= time.GetUtcNow().AddSeconds(mission.Contract.DeadlineSeconds);
        var entry = journal.Begin(db, mission);
        entry.Record(PipelineStage.Execute, "recovered",
            $"The instance running the action ({mission.Instance ?? "unknown"}) stopped before recording its result. It is not run again: {instance.Name} verifies its effect instead.",
            MissionState.Verifying);
        await entry.SaveAsync(cancellationToken);
        return StepOutcome.Moved;
    }

    /// <summary>
    /// Records an action's result, retrying while the database is away. If it never comes back in
    /// time the mission stays executing and is verified later; it is never rolled back for this.
    /// </summary>
    private async Task SaveWhatHappenedAsync(MissionJournal.Entry entry, CancellationToken cancellationToken)
    {
        try
        {
            await pipelines.GetPipeline(BookkeepingPipeline).ExecuteAsync(async ct => await entry.SaveAsync(ct), cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            // A retry after a commit whose answer was lost: the record is there already, or the
            // mission is recovered and verified. Either way nothing is undone.
            logger.LogWarning("The result of mission {MissionId} may already be recorded; it will be verified", entry.Mission.Id);
        }
    }

    /// <summary>Registers the bookkeeping pipeline: exponential backoff up to 10 s, for about six minutes, on anything but a conflict.</summary>
    public static void AddBookkeepingPipeline(ResiliencePipelineBuilder builder) => builder.AddRetry(new Polly.Retry.RetryStrategyOptions
    {
        ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException and not DbUpdateConcurrencyException),
        MaxRetryAttempts = 40,
        Delay = TimeSpan.FromMilliseconds(500),
        MaxDelay = TimeSpan.FromSeconds(10),
        BackoffType = DelayBackoffType.Exponential,
        UseJitter = true,
    });
}
