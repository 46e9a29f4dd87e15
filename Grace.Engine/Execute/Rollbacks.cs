using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Engine.Snapshot;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace Grace.Engine.Execute;

/// <summary>
/// Undoing an action from its safe-hold snapshot, and releasing the snapshot once the contract
/// held. One place, used after a failed action, a failed contract and a benchmark regression.
/// </summary>
public sealed class Rollbacks(ExecutorCatalog executors, SnapshotService snapshots, ActionResilience resilience, TimeProvider time, ILogger<Rollbacks> logger)
{
    /// <summary>Restores the snapshot through the rollback pipeline (retries, never the breaker) and records what happened.</summary>
    /// <remarks>
    /// In a runbook past its first step, the mission then moves to <see cref="MissionState.Compensating"/>:
    /// the steps done before this one are undone next, last first, each on its own target's grain.
    /// </remarks>
    public async Task RollbackAsync(MissionJournal.Entry entry, IRemediationExecutor executor, ActionRequest request, SnapshotState? state, string why, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;
        var step = Runbooks.CurrentStep(mission);
        var label = Runbooks.Label(mission);
        var compensate = step is not null && step.Index > 0;
        var then = compensate ? $" Then the {step!.Index} step(s) done before it are undone, last first." : "";
        if (step is not null)
        {
            step.EndedAt = time.GetUtcNow();
            step.Message = Truncate(why, 2000);
        }

        if (!executor.CanRollback || state is null)
        {
            if (step is not null)
            {
                step.State = RunbookStepState.Failed;
            }

            entry.Record(PipelineStage.Rollback, "no-rollback",
                $"{label}{executor.Action} cannot be undone, so nothing was rolled back after {why}; a person should look.{then}", compensate ? MissionState.Compensating : MissionState.Failed);
        }
        else
        {
            try
            {
                var restored = await resilience.ForRollback(mission.Target).ExecuteAsync(
                    async ct => await executor.RollbackAsync(request, state, ct), cancellationToken);
                if (step is not null)
                {
                    step.State = RunbookStepState.RolledBack;
                }

                entry.Record(PipelineStage.Rollback, "rolled-back", $"{label}Rolled back from the snapshot after {why}: {restored}{then}", compensate ? MissionState.Compensating : MissionState.RolledBack);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                if (step is not null)
                {
                    step.State = RunbookStepState.Failed;
                }

                entry.Record(PipelineStage.Rollback, "rollback-failed", $"{label}The rollback after {why} failed: {ex.Message}. A person must restore the target.{then}",
                    compensate ? MissionState.Compensating : MissionState.Failed);
            }
        }

        if (compensate)
        {
            Runbooks.MoveTo(mission, step!.Index - 1);
        }
    }

    /// <summary>
    /// Undoes one step a runbook had done, after a later step failed (compensation), and moves to the
    /// step before it; after the first, the mission ends rolled back (or failed, if an undo failed).
    /// </summary>
    public async Task CompensateAsync(GraceDbContext db, MissionJournal.Entry entry, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;
        var step = Runbooks.CurrentStep(mission) ?? throw new InvalidOperationException($"Mission {mission.Id} has no step {mission.StepIndex} to undo.");
        var label = Runbooks.Label(mission);
        var row = await db.Snapshots.Where(s => s.MissionId == mission.Id && s.Purpose == SnapshotService.PreExecution && s.StepIndex == step.Index)
            .OrderByDescending(s => s.TakenAt).FirstOrDefaultAsync(cancellationToken);
        var executor = executors.Executor(step.Action);
        if (step.State != RunbookStepState.Succeeded)
        {
            // Never ran (or already undone): nothing to do for it.
        }
        else if (!executor.CanRollback || row is null)
        {
            step.State = RunbookStepState.CompensationFailed;
            entry.Record(PipelineStage.Rollback, "not-compensated", $"{label}{step.Action} cannot be undone, so it stays done; a person should look.");
        }
        else
        {
            try
            {
                var restored = await resilience.ForRollback(step.Target).ExecuteAsync(
                    async ct => await executor.RollbackAsync(snapshots.RequestFor(mission.Id, step), SnapshotService.Read(row), ct), cancellationToken);
                step.State = RunbookStepState.Compensated;
                row.RestoredAt = time.GetUtcNow();
                entry.Record(PipelineStage.Rollback, "compensated", $"{label}Undone (compensation): {restored}");
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                step.State = RunbookStepState.CompensationFailed;
                entry.Record(PipelineStage.Rollback, "compensation-failed", $"{label}Undoing it failed: {ex.Message}. A person must restore {step.Target}.");
            }
        }

        if (step.Index > 0)
        {
            Runbooks.MoveTo(mission, step.Index - 1);
            entry.Record(PipelineStage.Rollback, "compensating", $"Next to undo: step {step.Index} of {mission.StepCount}.", MissionState.Compensating);
            return;
        }

        var final = Runbooks.AfterCompensation(mission);
        entry.Record(PipelineStage.Rollback, final == MissionState.RolledBack ? "rolled-back" : "rollback-failed",
            final == MissionState.RolledBack
                ? $"Runbook rolled back: the failed step and every step before it were undone, in reverse order ({Runbooks.FailedStep(mission)} failed)."
                : $"Runbook ended with steps not undone ({string.Join(", ", mission.Steps.Where(s => s.State is RunbookStepState.Failed or RunbookStepState.CompensationFailed).Select(s => $"{s.Index + 1} {s.Name}"))}); a person should look.",
            final);
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length];

    /// <summary>Restores the pre-execution snapshot after an action ran, and marks the snapshot restored.</summary>
    public async Task RollbackFromSnapshotAsync(GraceDbContext db, MissionJournal.Entry entry, string why, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;
        var snapshotRow = await LatestAsync(db, mission, cancellationToken);
        await RollbackAsync(entry, executors.Executor(mission.Action), snapshots.RequestFor(mission),
            snapshotRow is null ? null : SnapshotService.Read(snapshotRow), why, cancellationToken);
        if (snapshotRow is not null && (mission.State == MissionState.RolledBack || mission.Steps.Any(s => s.State == RunbookStepState.RolledBack && s.Index == snapshotRow.StepIndex)))
        {
            snapshotRow.RestoredAt = now;
        }
    }

    /// <summary>Lets the executor release what its snapshot kept (a quarantine folder) once nothing can roll back any more.</summary>
    public async Task CommitAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        if (mission.StepCount > 0)
        {
            // A runbook keeps every step's snapshot until its last contract held: a late failure undoes them all.
            foreach (var step in mission.Steps.OrderBy(s => s.Index))
            {
                var stepRow = await db.Snapshots.AsNoTracking().Where(s => s.MissionId == mission.Id && s.Purpose == SnapshotService.PreExecution && s.StepIndex == step.Index)
                    .OrderByDescending(s => s.TakenAt).FirstOrDefaultAsync(cancellationToken);
                if (stepRow is null)
                {
                    continue;
                }

                try
                {
                    await executors.Executor(step.Action).CommitAsync(snapshots.RequestFor(mission.Id, step), SnapshotService.Read(stepRow), cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning(ex, "Releasing the snapshot of step {Step} of mission {MissionId} failed", step.Index + 1, mission.Id);
                }
            }

            return;
        }

        var row = await LatestAsync(db, mission, cancellationToken);
        if (row is null)
        {
            return;
        }

        try
        {
            await executors.Executor(mission.Action).CommitAsync(snapshots.RequestFor(mission), SnapshotService.Read(row), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Releasing the snapshot of mission {MissionId} failed", mission.Id);
        }
    }

    private static Task<Data.Entities.Snapshot?> LatestAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        var rows = db.Snapshots.Where(s => s.MissionId == mission.Id && s.Purpose == SnapshotService.PreExecution);
        if (mission.StepCount > 0)
        {
            rows = rows.Where(s => s.StepIndex == mission.StepIndex);
        }

        return rows.OrderByDescending(s => s.TakenAt).FirstOrDefaultAsync(cancellationToken);
    }
}
