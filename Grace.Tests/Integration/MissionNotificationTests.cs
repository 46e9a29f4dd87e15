using System.Net.Http.Json;
using System.Text.Json;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Notifications.Outbox;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>Every mission transition people are told of, routed by event, pattern and tier, from the real engine.</summary>
public sealed class MissionNotificationTests : SqliteDatabaseTest
{
    [Fact]
    public async Task Each_mission_outcome_is_routed_by_event_pattern_and_tier_and_committed_with_its_transition()
    {
        TestCatalog.FillCache(Folder.Combine("cache-root", "thumbnails"));
        await using var all = await LoopbackReceiver.StartAsync();
        await using var leads = await LoopbackReceiver.StartAsync();
        var settings = TestCatalog.Settings(Folder).Concat(Database.Settings()).Where(kv => kv.Key != "Grace:Playbooks:test-checkpoint:Tier").Concat(new Dictionary<string, string?>
        {
            ["Grace:Playbooks:test-checkpoint:Tier"] = "1",
            ["Grace:Notifications:PollIntervalSeconds"] = "0.1",
            ["Grace:Notifications:Webhooks:everything:Url"] = all.Url,
            ["Grace:Notifications:Webhooks:everything:Secret"] = "mission-notification-secret",
            ["Grace:Notifications:Webhooks:leads:Url"] = leads.Url,
            ["Grace:Notifications:Webhooks:leads:Secret"] = "mission-notification-secret",
            // Everything to one channel; only tier 2+ failures of the cache pattern to the other.
            ["Grace:Notifications:Routes:0:Channels:0"] = "everything",
            ["Grace:Notifications:Routes:1:Channels:0"] = "leads",
            ["Grace:Notifications:Routes:1:Patterns:0"] = "test-cache",
            ["Grace:Notifications:Routes:1:MinimumTier"] = "2",
            ["Grace:Notifications:Routes:1:Events:0"] = "MissionExpired",
            ["Grace:Notifications:Routes:1:Events:1"] = "MissionBlocked",
        });
        await using var host = new GraceHost(settings).Start();
        using var client = host.IngestClient();
        async Task PostAsync(string message) => (await client.PostAsJsonAsync("/api/signals", new { source = "tests", message })).EnsureSuccessStatusCode();

        // Tier 1 runs without approval: people are told it ran.
        using var wal = TestCatalog.GrowWal(Folder.Combine("app.db"));
        await PostAsync(TestCatalog.WalMessage);
        var ran = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.CompletedAt != null, "finished");

        // A contract that cannot hold: rolled back.
        await PostAsync(TestCatalog.LoggingMessage);
        var rolledBack = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-debug-logging" && m.State == MissionState.RolledBack, "rolled back");

        // A tier-2 approval that nobody gives in time: expired.
        await PostAsync(TestCatalog.CacheMessage);
        var waiting = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-clear-cache" && m.State == MissionState.AwaitingApproval, "awaiting approval");
        await using (var db = host.CreateDb())
        {
            await db.Approvals.Where(a => a.MissionId == waiting.Id).ExecuteUpdateAsync(s => s.SetProperty(a => a.ExpiresAt, DateTimeOffset.UtcNow.AddSeconds(-1)));
        }

        var expired = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.State == MissionState.Expired, "expired");

        await using (var db = host.CreateDb())
        {
            // Each row was committed with its transition: it names the mission and the state it announced.
            var rows = await db.Notifications.AsNoTracking().ToListAsync();
            Assert.Contains(rows, n => n.Kind == NotificationKind.ActionRan && n.MissionId == ran.Id && n.Channel == "everything");
            Assert.Contains(rows, n => n.Kind == NotificationKind.MissionRolledBack && n.MissionId == rolledBack.Id && n.Channel == "everything");
            Assert.Contains(rows, n => n.Kind == NotificationKind.ApprovalRequested && n.MissionId == waiting.Id && n.Channel == "everything");
            Assert.Contains(rows, n => n.Kind == NotificationKind.MissionExpired && n.MissionId == expired.Id && n.Channel == "everything");
            Assert.Contains(rows, n => n.Kind == NotificationKind.MissionExpired && n.MissionId == expired.Id && n.Channel == "leads");
            // Tier 0 and tier 1 missions of other patterns never reach the leads' channel, and no success is announced.
            Assert.DoesNotContain(rows, n => n.Channel == "leads" && n.MissionId != expired.Id);
            Assert.Equal(5, rows.Count);
        }

        // The kill switch blocks the next mission: blocked is routed too (to both: the cache pattern at tier 2).
        await host.Get<KillSwitch>().SetAsync(true, new Actor("lena", [GraceRoles.Lead]), "hold everything", default);
        await using (var db = host.CreateDb())
        {
            await db.Incidents.ExecuteUpdateAsync(s => s.SetProperty(i => i.Status, IncidentStatus.Resolved));
        }

        await PostAsync(TestCatalog.CacheMessage + " again");
        var blocked = await host.WaitForMissionAsync(m => m.State == MissionState.Blocked, "blocked");
        var toLeads = await leads.WaitForAsync(2);
        var kinds = toLeads.Select(r => r.Headers[WebhookChannel.EventHeader]).Order().ToList();
        Assert.Equal(["MissionBlocked", "MissionExpired"], kinds);
        using var body = JsonDocument.Parse(toLeads.Single(r => r.Headers[WebhookChannel.EventHeader] == "MissionBlocked").Body);
        Assert.Equal(blocked.Id, body.RootElement.GetProperty("missionId").GetGuid());
        Assert.Contains("kill switch", body.RootElement.GetProperty("text").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith($"/missions/{blocked.Id}", body.RootElement.GetProperty("link").GetString());

        // The blocked incident is also handed to people by the escalation ladder (nothing may run while the switch is engaged).
        var everything = await all.WaitForAsync(7);
        Assert.Equal(["ActionRan", "ApprovalRequested", "IncidentNeedsHuman", "KillSwitchChanged", "MissionBlocked", "MissionExpired", "MissionRolledBack"],
            everything.Select(r => r.Headers[WebhookChannel.EventHeader]).Distinct().Order().ToList());
    }
    [Fact]
    public async Task A_tier_1_clearance_that_ends_in_the_same_commit_tells_people_only_the_outcome()
    {
        await using var all = await LoopbackReceiver.StartAsync();
        var settings = TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Notifications:Webhooks:everything:Url"] = all.Url,
            ["Grace:Notifications:Webhooks:everything:Secret"] = "mission-notification-secret",
            ["Grace:Notifications:Routes:0:Channels:0"] = "everything",
        });
        await using var host = new GraceHost(settings).Start();
        var journal = host.Get<MissionJournal>();

        // Two tier-1 missions cleared by the gate: one goes on to its action, the other's safe-hold
        // snapshot is refused in the same unit of work, so nothing of it ran.
        async Task<Guid> ClearAsync(bool refusedAtSnapshot)
        {
            await using var db = host.CreateDb();
            var now = DateTimeOffset.UtcNow;
            var incident = new Incident
            {
                Id = Guid.NewGuid(), Fingerprint = Guid.NewGuid().ToString("N"), Source = "orders-api", Template = "t", SampleMessage = "m",
                Status = IncidentStatus.Mitigating, PatternKey = "test-wal", FirstSeenAt = now, LastSeenAt = now, OpenedAt = now, Count = 1,
            };
            var mission = new Mission
            {
                Id = Guid.NewGuid(), IncidentId = incident.Id, PatternKey = "test-wal", PlaybookKey = "test-checkpoint", Action = "sqlite.wal-checkpoint",
                Target = "test-db", Parameters = "{}", RequestedBy = Actor.EngineName, Tier = 1, State = MissionState.Planned, Stage = PipelineStage.Gate,
                CreatedAt = now, UpdatedAt = now, Version = Guid.NewGuid(),
            };
            db.Incidents.Add(incident);
            db.Missions.Add(mission);
            var entry = journal.Begin(db, mission);
            entry.Record(PipelineStage.Gate, "cleared", "Tier 1: runs now; operators are told.", MissionState.Approved);
            if (refusedAtSnapshot)
            {
                entry.Record(PipelineStage.Snapshot, "refused", "No safe-hold snapshot could be taken, so nothing ran: the file is gone.", MissionState.Failed);
            }

            await entry.SaveAsync(default);
            return mission.Id;
        }

        var ran = await ClearAsync(refusedAtSnapshot: false);
        var refused = await ClearAsync(refusedAtSnapshot: true);

        await using var check = host.CreateDb();
        var rows = await check.Notifications.AsNoTracking().Where(n => n.MissionId == ran || n.MissionId == refused).ToListAsync();
        Assert.Contains(rows, n => n.MissionId == ran && n.Kind == NotificationKind.ActionRan);
        Assert.Equal([NotificationKind.MissionFailed], rows.Where(n => n.MissionId == refused).Select(n => n.Kind));
    }
}
