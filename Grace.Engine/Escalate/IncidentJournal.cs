using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Engine.Notifications;

namespace Grace.Engine.Escalate;

/// <summary>
/// Writes an incident's own timeline: each line is added to the caller's unit of work (so it is
/// committed with the change it records) and published once the caller has committed.
/// </summary>
public sealed class IncidentJournal(TimeProvider time, IPipelineNotifier notifier)
{
    /// <summary>Adds a line to <paramref name="db"/>; the caller saves, then calls <see cref="Publish"/>.</summary>
    public IncidentEvent Add(GraceDbContext db, Guid incidentId, IncidentEventKind kind, string message, string actor = Actor.EngineName,
        Guid? missionId = null, string? playbookKey = null, DateTimeOffset? at = null)
    {
        var line = new IncidentEvent
        {
            IncidentId = incidentId,
            At = at ?? time.GetUtcNow(),
            Kind = kind,
            Actor = Shorten(actor, IncidentEvent.ActorMaxLength),
            Message = Shorten(message, IncidentEvent.MessageMaxLength),
            MissionId = missionId,
            PlaybookKey = playbookKey,
        };
        db.IncidentEvents.Add(line);
        return line;
    }

    /// <summary>Tells live pages about lines that were committed.</summary>
    public void Publish(IEnumerable<IncidentEvent> lines)
    {
        foreach (var line in lines)
        {
            notifier.Publish(new IncidentTimelineUpdated(line.At, line.IncidentId, line.Kind, line.Actor, line.Message));
        }
    }

    /// <summary>Publishes every incident line added to <paramref name="db"/> and now saved.</summary>
    public void PublishSaved(GraceDbContext db) =>
        Publish(db.ChangeTracker.Entries<IncidentEvent>().Where(e => e.State == Microsoft.EntityFrameworkCore.EntityState.Unchanged && e.Entity.Id > 0).Select(e => e.Entity).ToList());

    internal static string Shorten(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";
}
