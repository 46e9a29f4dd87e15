using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Microsoft.EntityFrameworkCore;

namespace Grace.Engine.Execute;

/// <summary>
/// Compensation of a runbook whose step failed: undoes one step done before it, on that step's
/// target's grain (one action per target in the cluster, undo included), then moves to the step
/// before. The mission's grain calls it once per step, last first.
/// </summary>
public sealed class CompensationStage(IDbContextFactory<GraceDbContext> dbFactory, Rollbacks rollbacks, MissionJournal journal)
{
    public async Task<StepOutcome> CompensateAsync(Guid missionId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (await MissionStore.LoadAsync(db, missionId, cancellationToken) is not { State: MissionState.Compensating } mission)
        {
            return StepOutcome.Moved;
        }

        var entry = journal.Begin(db, mission);
        await rollbacks.CompensateAsync(db, entry, cancellationToken);
        await entry.SaveAsync(cancellationToken);
        return StepOutcome.Moved;
    }
}
