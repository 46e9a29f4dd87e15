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
public sealed class Rollbacks(ExecutorCatalog executors, SnapshotService snapshots, ActionResilience resilience, ILogger<Rollbacks> logger)
{
    /// <summary>Restores the snapshot through the rollback pipeline (retries, never the breaker) and records what happened.</summary>
    public async Task RollbackAsync(MissionJournal.Entry entry, IRemediationExecutor executor, ActionRequest request, SnapshotState? state, string why, CancellationToken cancellationToken)
    {
        if (!executor.CanRollback || state is null)
        {
            entry.Record(PipelineStage.Rollback, "no-rollback",
                $"{executor.Action} cannot be undone, so nothing was rolled back after {why}; a person should look.", MissionState.Failed);
            return;
        }

        try
        {
            var restored = await resilience.ForRollback(entry.Mission.Target).ExecuteAsync(
                async ct => await executor.RollbackAsync(request, state, ct), cancellationToken);
            entry.Record(PipelineStage.Rollback, "rolled-back", $"Rolled back from the snapshot after {why}: {restored}", MissionState.RolledBack);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            entry.Record(PipelineStage.Rollback, "rollback-failed", $"The rollback after {why} failed: {ex.Message}. A person must restore the target.", MissionState.Failed);
        }
    }

    /// <summary>Restores the pre-execution snapshot after an action ran, and marks the snapshot restored.</summary>
    public async Task RollbackFromSnapshotAsync(GraceDbContext db, MissionJournal.Entry entry, string why, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;
        var snapshotRow = await LatestAsync(db, mission.Id, cancellationToken);
        await RollbackAsync(entry, executors.Executor(mission.Action), snapshots.RequestFor(mission),
            snapshotRow is null ? null : SnapshotService.Read(snapshotRow), why, cancellationToken);
        if (snapshotRow is not null && mission.State == MissionState.RolledBack)
        {
            snapshotRow.RestoredAt = now;
        }
    }

    /// <summary>Lets the executor release what its snapshot kept (a quarantine folder) once nothing can roll back any more.</summary>
    public async Task CommitAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        var row = await LatestAsync(db, mission.Id, cancellationToken);
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

    private static Task<Data.Entities.Snapshot?> LatestAsync(GraceDbContext db, Guid missionId, CancellationToken cancellationToken) =>
        db.Snapshots.Where(s => s.MissionId == missionId && s.Purpose == SnapshotService.PreExecution)
            .OrderByDescending(s => s.TakenAt).FirstOrDefaultAsync(cancellationToken);
}
