using Grace.Data;
using Grace.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace Grace.Engine.Missions;

/// <summary>How the engine reads a mission: tracked with everything a step may change, or just its state.</summary>
public static class MissionStore
{
    /// <summary>The mission with its contract, approval (and decisions) and incident, tracked for a step that changes it.</summary>
    public static Task<Mission?> LoadAsync(GraceDbContext db, Guid missionId, CancellationToken cancellationToken) =>
        db.Missions
            .Include(m => m.Contract)
            .Include(m => m.Approval!).ThenInclude(a => a.Decisions)
            .Include(m => m.Incident)
            .Include(m => m.Steps)
            .AsSplitQuery()
            .SingleOrDefaultAsync(m => m.Id == missionId, cancellationToken);

    /// <summary>What the mission grain needs to pick the next step.</summary>
    public static Task<MissionPosition?> PositionAsync(GraceDbContext db, Guid missionId, CancellationToken cancellationToken) =>
        db.Missions.AsNoTracking()
            .Where(m => m.Id == missionId)
            .Select(m => new MissionPosition(m.State, m.Target, db.Outcomes.Any(o => o.MissionId == m.Id), m.ContractAtPlan))
            .SingleOrDefaultAsync(cancellationToken);
}

/// <summary>
/// A mission's state, the target it acts on, whether its outcome has been learned, and what its
/// contract's probe read at planning (so a planned mission whose contract did not already hold goes
/// to the gate without loading itself first).
/// </summary>
public sealed record MissionPosition(MissionState State, string Target, bool Learned, ContractPrecheck ContractAtPlan);
