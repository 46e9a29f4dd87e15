using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Notifications;
using Microsoft.EntityFrameworkCore;

namespace Grace.Engine.Missions;

/// <summary>
/// Takes a finished mission in trouble off the Overview once a person has dealt with it. Only the
/// Overview forgets it: the mission, its timeline and its incident are unchanged, the dismissal is a
/// line on the timeline and an audit entry.
/// </summary>
public sealed class MissionDismissals(IDbContextFactory<GraceDbContext> dbFactory, Audit.AuditTrail audit, IPipelineNotifier notifier, TimeProvider time)
{
    /// <summary>The timeline line's kind.</summary>
    public const string DismissedEvent = "dismissed";

    public async Task DismissAsync(Guid missionId, Actor actor, CancellationToken cancellationToken)
    {
        if (!actor.CanActOnIncidents)
        {
            throw new MissionOperationException($"{actor.Name} may not dismiss missions: it needs the Operator, Lead or Admin role.", forbidden: true);
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var mission = await db.Missions.SingleOrDefaultAsync(m => m.Id == missionId, cancellationToken)
            ?? throw new MissionOperationException($"Mission {missionId} does not exist.", notFound: true);
        if (!MissionStates.Trouble.Contains(mission.State))
        {
            throw new MissionOperationException($"Only a mission that failed, rolled back, was blocked or expired can be dismissed; this one is {mission.State}.");
        }

        if (mission.DismissedBy is { } by)
        {
            throw new MissionOperationException($"{by} already dismissed this mission.");
        }

        var now = time.GetUtcNow();
        mission.DismissedAt = now;
        mission.DismissedBy = ColumnLimits.Shorten(actor.Name, ColumnLimits.UserName);
        // Not through the journal's Record: that would move the mission's stage and "updated" time, and a dismissal is not a step of the mission.
        var line = new MissionEvent
        {
            MissionId = mission.Id, Stage = mission.Stage, Kind = DismissedEvent, At = now, Actor = actor.Name,
            Message = $"Dismissed from the Overview by {actor.Name}.",
        };
        db.MissionEvents.Add(line);
        audit.Add(db, actor, "mission.dismiss", $"mission/{mission.Id}", $"{mission.PlaybookKey} on {mission.Target}, {mission.State}");
        await db.SaveChangesAsync(cancellationToken);
        notifier.Publish(new MissionUpdated(now, mission.Id, mission.IncidentId, mission.PlaybookKey, mission.Target, mission.Tier, mission.State, mission.Stage, actor.Name, line.Message));
    }
}
