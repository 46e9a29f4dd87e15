using System.Net.Http.Json;
using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Execute;
using Grace.Engine.Faults;
using Grace.Engine.Missions;
using Grace.Engine.Notifications.Outbox;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>
/// The escalation ladder end to end on a real host: the fault demo's WAL growth on a real SQLite
/// file, real health checks, real actions, a webhook receiver on a loopback port for "needs a human".
/// </summary>
public sealed class EscalationTests : IAsyncLifetime
{
    private const string Secret = "escalation-webhook-secret-0123456789";
    private static readonly Actor Admin = new("admin", [GraceRoles.Admin]);
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private LoopbackReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await LoopbackReceiver.StartAsync();

    public async Task DisposeAsync()
    {
        await _receiver.DisposeAsync();
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        _folder.Dispose();
    }

    private async Task<GraceHost> HostAsync(DatabaseProvider provider, Dictionary<string, string?> extra)
    {
        _database = await TestDatabase.CreateAsync(provider, _folder);
        var settings = TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Faults:Enabled"] = "true",
            ["Grace:Targets:demo-orders-db:Path"] = _folder.Combine("demo", "orders.db"),
            ["Grace:Targets:demo-orders-db:HealthCheck:IntervalSeconds"] = "1",
            ["Grace:Notifications:PollIntervalSeconds"] = "0.1",
            ["Grace:Notifications:ConsoleUrl"] = "https://grace.example.test",
            ["Grace:Notifications:Webhooks:oncall-hook:Url"] = _receiver.Url + "/hooks/oncall",
            ["Grace:Notifications:Webhooks:oncall-hook:Secret"] = Secret,
            ["Grace:Notifications:Routes:0:Events:0"] = nameof(NotificationKind.IncidentNeedsHuman),
            ["Grace:Notifications:Routes:0:Channels:0"] = "oncall-hook",
        }).ToList();
        foreach (var (key, value) in extra)
        {
            settings.RemoveAll(kv => kv.Key == key);
            settings.Add(new(key, value));
        }

        return new GraceHost(settings).Start();
    }

    private static async Task<List<IncidentEvent>> TimelineAsync(GraceHost host, Guid incidentId)
    {
        await using var db = host.CreateDb();
        return await db.IncidentEvents.AsNoTracking().Where(e => e.IncidentId == incidentId).OrderBy(e => e.Id).ToListAsync();
    }

    /// <summary>The WAL fault, healed once; then the same fault again within the checkpoint's cooldown.</summary>
    private static async Task<Mission> HealOnceThenInjectAgainAsync(GraceHost host)
    {
        var injector = host.Get<FaultInjector>();
        await injector.InjectAsync(WalGrowthFault.Kind, "demo-orders-db", 6, Admin, default);
        var first = await host.WaitForMissionAsync(m => m.PlaybookKey == "checkpoint-demo-db" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Succeeded, first.State);
        // The health check passes again and resolves the incident; the next growth reopens it.
        await host.WaitUntilAsync(async db => await db.Incidents.AnyAsync(i => i.Id == first.IncidentId && i.Status == IncidentStatus.Resolved), 20);
        await injector.InjectAsync(WalGrowthFault.Kind, "demo-orders-db", 6, Admin, default);
        return first;
    }

    [Fact]
    public async Task A_cooldown_blocked_playbook_then_a_failing_one_climb_to_the_next_candidate_then_to_a_human_who_is_notified()
    {
        await using var host = await HostAsync(DatabaseProvider.Sqlite, new()
        {
            // Two candidates: the shipped checkpoint (60 s cooldown), then one whose contract cannot hold (it sets Debug, expects Fatal).
            ["Grace:Patterns:demo-db-wal:Playbooks:1"] = "test-debug-logging",
            ["Grace:Patterns:demo-db-wal:Escalation:Retries"] = "0",
        });
        var first = await HealOnceThenInjectAgainAsync(host);

        var blocked = await host.WaitForMissionAsync(m => m.Id != first.Id && m.PlaybookKey == "checkpoint-demo-db" && m.CompletedAt != null, "blocked", 60);
        Assert.Equal(MissionState.Blocked, blocked.State);
        Assert.StartsWith("Cooldown:", blocked.StatusReason);
        var next = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-debug-logging" && m.CompletedAt != null, "rolled back", 60);
        Assert.Equal(MissionState.RolledBack, next.State);
        Assert.Equal(MissionOrigin.Escalation, next.Origin);
        Assert.Equal(first.IncidentId, next.IncidentId);

        await host.WaitUntilAsync(async db => await db.Incidents.AnyAsync(i => i.Id == first.IncidentId && i.NeedsHuman), 20);
        await using (var db = host.CreateDb())
        {
            var incident = await db.Incidents.SingleAsync(i => i.Id == first.IncidentId);
            Assert.NotEqual(IncidentStatus.Resolved, incident.Status);
            Assert.Contains("none healed it", incident.NeedsHumanReason);
            Assert.True(SqliteCheckpointExecutor.WalBytes(_folder.Combine("demo", "orders.db")) > 0, "nothing healed the WAL");
        }

        // Every rung is on the incident's timeline, in order.
        var kinds = (await TimelineAsync(host, first.IncidentId)).Select(e => e.Kind).ToList();
        var reopened = kinds.LastIndexOf(IncidentEventKind.Reopened);
        Assert.True(reopened >= 0, string.Join(", ", kinds));
        var after = kinds.Skip(reopened).ToList();
        Assert.Equal(
            [IncidentEventKind.Reopened, IncidentEventKind.MissionPlanned, IncidentEventKind.MissionEnded, IncidentEventKind.NextPlaybook,
             IncidentEventKind.MissionPlanned, IncidentEventKind.MissionEnded, IncidentEventKind.NeedsHuman],
            after);

        // People hear of it: one signed webhook, about this incident.
        var requests = await _receiver.WaitForAsync(1);
        var hook = Assert.Single(requests);
        Assert.Equal(nameof(NotificationKind.IncidentNeedsHuman), hook.Headers[WebhookChannel.EventHeader]);
        var timestamp = long.Parse(hook.Headers[WebhookChannel.TimestampHeader], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Signatures.Webhook(Secret, timestamp, hook.Body), hook.Headers[WebhookChannel.SignatureHeader]);
        using var body = JsonDocument.Parse(hook.Body);
        Assert.Equal(first.IncidentId, body.RootElement.GetProperty("incidentId").GetGuid());
        Assert.Contains("none healed it", body.RootElement.GetProperty("text").GetString());

        // The mission's timeline links to the rung that followed it.
        await using var check = host.CreateDb();
        Assert.True(await check.MissionEvents.AnyAsync(e => e.MissionId == blocked.Id && e.Kind == "escalated" && e.Message.Contains("test-debug-logging")));
    }

    [Fact]
    public async Task A_cooldown_blocked_playbook_is_retried_once_the_cooldown_has_passed()
    {
        await using var host = await HostAsync(DatabaseProvider.Sqlite, new()
        {
            ["Grace:Playbooks:checkpoint-demo-db:CooldownSeconds"] = "8",
            ["Grace:Patterns:demo-db-wal:Escalation:Retries"] = "1",
        });
        var first = await HealOnceThenInjectAgainAsync(host);
        var blocked = await host.WaitForMissionAsync(m => m.Id != first.Id && m.CompletedAt != null, "blocked", 60);
        Assert.Equal(MissionState.Blocked, blocked.State);

        // A wake when the cooldown ends, not silence: the retry runs, and heals.
        var retry = await host.WaitForMissionAsync(m => m.Origin == MissionOrigin.Escalation && m.CompletedAt != null, "retried", 60);
        Assert.Equal(MissionState.Succeeded, retry.State);
        Assert.Equal("checkpoint-demo-db", retry.PlaybookKey);
        Assert.True(retry.ExecutedAt >= first.ExecutedAt!.Value.AddSeconds(8), $"the retry ran at {retry.ExecutedAt:O}, within the cooldown after {first.ExecutedAt:O}");
        Assert.Equal(0, SqliteCheckpointExecutor.WalBytes(_folder.Combine("demo", "orders.db")));

        await host.WaitUntilAsync(async db => await db.Outcomes.AnyAsync(o => o.MissionId == retry.Id));
        var timeline = await TimelineAsync(host, first.IncidentId);
        var scheduled = Assert.Single(timeline, e => e.Kind == IncidentEventKind.RetryScheduled);
        Assert.Contains("once its cooldown has passed", scheduled.Message);
        Assert.Contains(timeline, e => e.Kind == IncidentEventKind.RetryDue);
        Assert.Equal(IncidentEventKind.Resolved, timeline.Last(e => e.Kind is IncidentEventKind.Resolved or IncidentEventKind.NeedsHuman).Kind);
        Assert.Empty(_receiver.Received);
    }

    [Theory]
    [InlineData(DatabaseProvider.Sqlite)]
    [InlineData(DatabaseProvider.Postgres)]
    public async Task A_rung_due_while_the_incident_is_quiet_waits_and_goes_on_when_it_fires_again(DatabaseProvider provider)
    {
        await using var host = await HostAsync(provider, new()
        {
            ["Grace:Playbooks:test-debug-logging:CooldownSeconds"] = "0",
            ["Grace:Patterns:test-logging:Escalation:Retries"] = "1",
            ["Grace:Patterns:test-logging:Escalation:RetryDelaySeconds"] = "1",
        });
        using var client = host.IngestClient();
        (await client.PostAsJsonAsync("/api/signals", new { source = "checkout", message = TestCatalog.LoggingMessage })).EnsureSuccessStatusCode();
        var first = await host.WaitForMissionAsync(m => m.CompletedAt != null, "rolled back", 30);
        Assert.Equal(MissionState.RolledBack, first.State);

        // The retry falls due a second later, but nothing has fired since: it waits instead of acting for nothing.
        await host.WaitUntilAsync(async db => await db.IncidentEvents.AnyAsync(e => e.IncidentId == first.IncidentId && e.Kind == IncidentEventKind.Paused), 20);
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await using (var db = host.CreateDb())
        {
            Assert.Equal(1, await db.Missions.CountAsync());
            Assert.True((await db.Incidents.SingleAsync(i => i.Id == first.IncidentId)).AwaitingRecurrence);
        }

        // The incident fires again (within the dedup window: no new episode): the rung goes on.
        (await client.PostAsJsonAsync("/api/signals", new { source = "checkout", message = TestCatalog.LoggingMessage })).EnsureSuccessStatusCode();
        var retry = await host.WaitForMissionAsync(m => m.Id != first.Id && m.CompletedAt != null, "retried", 30);
        Assert.Equal(MissionOrigin.Escalation, retry.Origin);
        Assert.Equal(first.IncidentId, retry.IncidentId);

        // The retry did not heal either, and retries are bounded: people are told.
        await host.WaitUntilAsync(async db => await db.Incidents.AnyAsync(i => i.Id == first.IncidentId && i.NeedsHuman), 20);
        var kinds = (await TimelineAsync(host, first.IncidentId)).Select(e => e.Kind).ToList();
        Assert.Equal(
            [IncidentEventKind.Opened, IncidentEventKind.MissionPlanned, IncidentEventKind.MissionEnded, IncidentEventKind.RetryScheduled, IncidentEventKind.Paused,
             IncidentEventKind.Resumed, IncidentEventKind.MissionPlanned, IncidentEventKind.MissionEnded, IncidentEventKind.NeedsHuman],
            kinds);
        var hook = Assert.Single(await _receiver.WaitForAsync(1));
        Assert.Equal(nameof(NotificationKind.IncidentNeedsHuman), hook.Headers[WebhookChannel.EventHeader]);
    }
}
