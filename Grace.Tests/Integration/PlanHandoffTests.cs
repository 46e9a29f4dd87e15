using Grace.Data.Entities;
using Grace.Engine.Plan;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>
/// Capture hands planning the incident it just committed instead of planning reading it back
/// (ADR 0036). What planning was handed may be out of date by the time the mission is written: the
/// planner's own read, in the unit of work that writes the mission, decides.
/// </summary>
public sealed class PlanHandoffTests
{
    private static Incident Marked(string fingerprint, IncidentStatus status)
    {
        var now = DateTimeOffset.UtcNow;
        return new Incident
        {
            Id = Guid.CreateVersion7(now),
            Fingerprint = fingerprint,
            Source = "orders-api",
            Template = TestCatalog.WalMessage,
            SampleMessage = TestCatalog.WalMessage,
            Severity = Severity.Error,
            Status = status,
            FirstSeenAt = now,
            LastSeenAt = now,
            OpenedAt = now,
            ResolvedAt = status == IncidentStatus.Resolved ? now : null,
            Count = 1,
            PlanPending = true,
        };
    }

    [Fact]
    public async Task A_handed_over_incident_resolved_since_gets_no_mission_and_an_open_one_does()
    {
        using var folder = new TempFolder();
        using var wal = TestCatalog.GrowWal(folder.Combine("app.db"));
        // No sweep meanwhile: it would plan the marked incidents by reading them, which is not what is tested.
        await using var host = new GraceHost(TestCatalog.Settings(folder)
            .Where(s => s.Key != "Grace:Engine:SweepIntervalSeconds").Append(new("Grace:Engine:SweepIntervalSeconds", "3600"))).Start();
        var resolved = Marked("handoff-resolved", IncidentStatus.Resolved);
        var open = Marked("handoff-open", IncidentStatus.Open);
        await using (var db = host.CreateDb())
        {
            db.Incidents.AddRange(resolved, open);
            await db.SaveChangesAsync();
        }

        var planning = host.Get<PlanningService>();
        // As capture handed it over while it was still open: a later batch resolved it before planning got to it.
        await planning.PlanAsync(IncidentToPlan.Of(resolved), default);
        await planning.PlanAsync(IncidentToPlan.Of(open), default);

        await using (var db = host.CreateDb())
        {
            Assert.False(await db.Missions.AnyAsync(m => m.IncidentId == resolved.Id));
            var stored = await db.Incidents.AsNoTracking().SingleAsync(i => i.Id == resolved.Id);
            Assert.False(stored.PlanPending);
            Assert.Equal(IncidentStatus.Resolved, stored.Status);

            var mission = await db.Missions.AsNoTracking().SingleAsync(m => m.IncidentId == open.Id);
            Assert.Equal("test-checkpoint", mission.PlaybookKey);
            Assert.False((await db.Incidents.AsNoTracking().SingleAsync(i => i.Id == open.Id)).PlanPending);
        }
    }
}
