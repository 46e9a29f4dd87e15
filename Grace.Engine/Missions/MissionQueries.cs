using Grace.Data;
using Grace.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace Grace.Engine.Missions;

/// <summary>A mission as a list shows it.</summary>
public sealed record MissionSummary(Guid Id, string PlaybookKey, string PatternKey, string Target, int Tier, MissionState State,
    PipelineStage Stage, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? StatusReason, string IncidentSource, Guid IncidentId);

/// <summary>Read-only queries for the console and the API: one short-lived, untracked context each.</summary>
public sealed class MissionQueries(IDbContextFactory<GraceDbContext> dbFactory)
{
    public async Task<Mission?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Missions.AsNoTracking()
            .Include(m => m.Contract)
            .Include(m => m.Approval!).ThenInclude(a => a.Decisions)
            .Include(m => m.Incident)
            .Include(m => m.Snapshots)
            .Include(m => m.Steps.OrderBy(s => s.Index))
            .Include(m => m.Events.OrderBy(e => e.Id))
            .AsSplitQuery()
            .SingleOrDefaultAsync(m => m.Id == id, cancellationToken);
    }

    public async Task<OutcomeRecord?> OutcomeAsync(Guid missionId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Outcomes.AsNoTracking().SingleOrDefaultAsync(o => o.MissionId == missionId, cancellationToken);
    }
}
