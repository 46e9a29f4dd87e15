using System.Net.Http.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Notifications;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Grace.Tests.Integration;

/// <summary>The gate's rules on a real host and a real SQLite file: expiry, distinct approvers, the kill switch, recovery.</summary>
public sealed class MissionRulesTests : SqliteDatabaseTest
{
    private string Cache => Folder.Combine("cache-root", "thumbnails");

    private GraceHost NewHost(int cacheTier = 2, Action<IServiceCollection>? services = null, params (string Key, string Value)[] extra) =>
        new GraceHost(TestCatalog.Settings(Folder, cacheTier).Concat(Database.Settings())
            .Where(kv => !extra.Any(e => e.Key == kv.Key))
            .Concat(extra.Select(e => new KeyValuePair<string, string?>(e.Key, e.Value))), services).Start();

    private static async Task PostAsync(GraceHost host, string message)
    {
        using var client = host.IngestClient();
        (await client.PostAsJsonAsync("/api/signals", new { source = "thumbnailer", message })).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task A_second_incident_for_a_playbook_already_under_way_on_its_target_makes_no_second_mission()
    {
        TestCatalog.FillCache(Cache);
        await using var host = NewHost(2, null, ("Grace:Patterns:test-cache-quota:MessageRegex", "disk quota exceeded"), ("Grace:Patterns:test-cache-quota:Playbooks:0", "test-clear-cache"));
        await PostAsync(host, TestCatalog.CacheMessage);
        var first = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");

        // The same fault seen another way: a different incident, the same playbook on the same target.
        await PostAsync(host, "Thumbnail write failed: disk quota exceeded for user 1001");
        var second = await host.WaitForIncidentAsync(i => i.SampleMessage.Contains("quota", StringComparison.Ordinal));
        Assert.NotEqual(first.IncidentId, second.Id);
        // Signals are diagnosed in order: once a later signal has its mission, the quota incident has been planned (or not).
        await PostAsync(host, TestCatalog.WalMessage);
        await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint", "planned");

        await using (var db = host.CreateDb())
        {
            var missions = await db.Missions.Where(m => m.PlaybookKey == "test-clear-cache").ToListAsync();
            Assert.Equal(first.Id, Assert.Single(missions).Id);
            Assert.Equal(IncidentStatus.Mitigating, (await db.Incidents.SingleAsync(i => i.Id == second.Id)).Status);
        }

        // The covering mission's success settles both incidents.
        await host.Get<ApprovalService>().DecideAsync(first.Id, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default);
        var done = await host.WaitForMissionAsync(m => m.Id == first.Id && m.CompletedAt != null, "finished", 30);
        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Contains(done.Events, e => e.Kind == "covers" && e.Message.Contains("test-cache-quota", StringComparison.Ordinal));
        await host.WaitForIncidentAsync(i => i.Id == second.Id && i.Status == IncidentStatus.Resolved);
    }

    [Fact]
    public async Task An_approval_that_expires_ends_the_mission_and_nothing_runs()
    {
        TestCatalog.FillCache(Cache);
        var time = new ShiftedTimeProvider();
        await using var host = NewHost(services: s => s.AddSingleton<TimeProvider>(time));
        await PostAsync(host, TestCatalog.CacheMessage);
        var waiting = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        Assert.Equal(time.GetUtcNow().AddMinutes(30), waiting.Approval!.ExpiresAt, TimeSpan.FromSeconds(10));

        time.Advance(TimeSpan.FromMinutes(29));
        await host.SweepAsync();
        Assert.Equal(MissionState.AwaitingApproval, (await host.WaitForMissionAsync(m => m.Id == waiting.Id, "present")).State);

        time.Advance(TimeSpan.FromMinutes(2));
        await host.SweepAsync();
        var expired = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.State == MissionState.Expired, "expired");
        Assert.Equal(ApprovalStatus.Expired, expired.Approval!.Status);
        Assert.Contains(expired.Events, e => e.Kind == "expired");

        var late = await Assert.ThrowsAsync<MissionOperationException>(() =>
            host.Get<ApprovalService>().DecideAsync(waiting.Id, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default));
        Assert.Contains("not waiting for approval", late.Message);
        Assert.Equal(20, Directory.EnumerateFiles(Cache, "*", SearchOption.AllDirectories).Count());
    }

    [Fact]
    public async Task Tier3_needs_two_distinct_approvers_and_a_rejection_needs_a_reason()
    {
        TestCatalog.FillCache(Cache);
        await using var host = NewHost(cacheTier: 3);
        await PostAsync(host, TestCatalog.CacheMessage);
        var waiting = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        Assert.Equal(2, waiting.Approval!.RequiredCount);
        var approvals = host.Get<ApprovalService>();
        var olivia = new Actor("olivia", [GraceRoles.Operator]);

        var noReason = await Assert.ThrowsAsync<MissionOperationException>(() => approvals.DecideAsync(waiting.Id, olivia, ApprovalVerdict.Reject, "  ", default));
        Assert.Contains("needs a reason", noReason.Message);

        Assert.Equal(ApprovalStatus.Pending, await approvals.DecideAsync(waiting.Id, olivia, ApprovalVerdict.Approve, null, default));
        var twice = await Assert.ThrowsAsync<MissionOperationException>(() => approvals.DecideAsync(waiting.Id, olivia, ApprovalVerdict.Approve, null, default));
        Assert.Contains("distinct approvers", twice.Message);
        Assert.Equal(20, Directory.EnumerateFiles(Cache, "*", SearchOption.AllDirectories).Count());

        Assert.Equal(ApprovalStatus.Approved, await approvals.DecideAsync(waiting.Id, new Actor("lena", [GraceRoles.Lead]), ApprovalVerdict.Approve, null, default));
        var done = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Cache));
    }

    [Fact]
    public async Task An_approval_given_after_the_kill_switch_was_engaged_runs_nothing()
    {
        TestCatalog.FillCache(Cache);
        await using var host = NewHost();
        await PostAsync(host, TestCatalog.CacheMessage);
        var waiting = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        await host.Get<KillSwitch>().SetAsync(true, new Actor("lena", [GraceRoles.Admin]), "incident freeze", default);

        await host.Get<ApprovalService>().DecideAsync(waiting.Id, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default);
        var blocked = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.CompletedAt != null, "blocked");
        Assert.Equal(MissionState.Blocked, blocked.State);
        Assert.Contains("kill switch", blocked.StatusReason);
        Assert.Null(blocked.ExecutedAt);
        Assert.Equal(20, Directory.EnumerateFiles(Cache, "*", SearchOption.AllDirectories).Count());
    }

    [Fact]
    public async Task A_rejection_ends_the_mission_with_the_reason_on_the_timeline()
    {
        TestCatalog.FillCache(Cache);
        await using var host = NewHost();
        await PostAsync(host, TestCatalog.CacheMessage);
        var waiting = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        await host.Get<ApprovalService>().DecideAsync(waiting.Id, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Reject, "thumbnails are being migrated", default);

        var rejected = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.State == MissionState.Rejected, "rejected");
        Assert.Contains(rejected.Events, e => e.Kind == "rejected" && e.Message.Contains("thumbnails are being migrated", StringComparison.Ordinal) && e.Actor == "olivia");
        Assert.Equal(20, Directory.EnumerateFiles(Cache, "*", SearchOption.AllDirectories).Count());
    }

    [Fact]
    public async Task The_kill_switch_blocks_every_action_survives_a_restart_and_only_leads_turn_it()
    {
        var appDb = Folder.Combine("app.db");
        using var holder = TestCatalog.GrowWal(appDb);
        var walBefore = new FileInfo(appDb + "-wal").Length;
        await using (var first = NewHost())
        {
            var kill = first.Get<KillSwitch>();
            var refused = await Assert.ThrowsAsync<MissionOperationException>(() => kill.SetAsync(true, new Actor("olivia", [GraceRoles.Operator]), "no", default));
            Assert.True(refused.Forbidden);
            await kill.SetAsync(true, new Actor("lena", [GraceRoles.Lead]), "database migration tonight", default);
        }

        await using var second = NewHost();
        Assert.True(await second.Get<KillSwitch>().IsEngagedAsync(default));
        await PostAsync(second, TestCatalog.WalMessage);
        var blocked = await second.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.CompletedAt != null, "blocked");
        Assert.Equal(MissionState.Blocked, blocked.State);
        Assert.Contains("kill switch", blocked.StatusReason);
        Assert.Null(blocked.ExecutedAt);
        Assert.Equal(walBefore, new FileInfo(appDb + "-wal").Length);

        await using var db = second.CreateDb();
        Assert.Contains(await db.AuditEntries.ToListAsync(), a => a.Action == "kill-switch.engage" && a.Actor == "lena" && a.Detail == "database migration tonight");
    }

    [Fact]
    public async Task A_mission_interrupted_while_executing_is_verified_after_restart_and_never_run_twice()
    {
        TestCatalog.FillCache(Cache);
        Guid missionId;
        await using (var first = NewHost())
        {
            await PostAsync(first, TestCatalog.CacheMessage);
            missionId = (await first.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval")).Id;
        }

        // The host "died" right after committing the intent, before the action touched anything.
        await using (var db = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings())).CreateDbWithoutStarting())
        {
            var mission = await db.Missions.Include(m => m.Approval).SingleAsync(m => m.Id == missionId);
            var approvalSnapshot = await db.Snapshots.AsNoTracking().SingleAsync(s => s.MissionId == missionId);
            mission.State = MissionState.Executing;
            mission.ExecutedAt = DateTimeOffset.UtcNow;
            mission.Approval!.Status = ApprovalStatus.Approved;
            db.Snapshots.Add(new Snapshot
            {
                Id = Guid.NewGuid(), MissionId = missionId, Executor = approvalSnapshot.Executor, Target = approvalSnapshot.Target,
                Purpose = "pre-execution", State = approvalSnapshot.State, Summary = approvalSnapshot.Summary, TakenAt = DateTimeOffset.UtcNow,
            });
            db.MissionEvents.Add(new MissionEvent { MissionId = missionId, Stage = PipelineStage.Execute, Kind = "intent", At = DateTimeOffset.UtcNow, Actor = "engine", Message = "About to run" });
            await db.SaveChangesAsync();
        }

        await using var second = NewHost(extra: ("Grace:Playbooks:test-clear-cache:Contract:DeadlineSeconds", "2"));
        var done = await second.WaitForMissionAsync(m => m.Id == missionId && m.CompletedAt != null, "finished after recovery");
        var kinds = done.Events.OrderBy(e => e.Id).Select(e => e.Kind).ToList();
        Assert.Contains("recovered", kinds);
        Assert.Single(kinds, k => k == "intent");
        Assert.DoesNotContain("executed", kinds);
        Assert.Equal(20, Directory.EnumerateFiles(Cache, "*", SearchOption.AllDirectories).Count());
        Assert.Equal(MissionState.RolledBack, done.State);
    }

    [Fact]
    public async Task A_recurrence_inside_the_cooldown_is_blocked_and_counted_not_run()
    {
        var appDb = Folder.Combine("app.db");
        using var holder = TestCatalog.GrowWal(appDb);
        await using var host = NewHost(extra: ("Grace:Playbooks:test-checkpoint:CooldownSeconds", "3600"));
        await PostAsync(host, TestCatalog.WalMessage);
        var first = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.Succeeded, first.State);
        await host.WaitForMissionAsync(m => m.Id == first.Id && m.Stage == PipelineStage.Learn, "learned");

        await PostAsync(host, TestCatalog.WalMessage);
        var second = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.Id != first.Id && m.CompletedAt != null, "blocked");
        Assert.Equal(MissionState.Blocked, second.State);
        Assert.StartsWith("Cooldown", second.StatusReason);
        await using var db = host.CreateDb();
        var incident = await db.Incidents.SingleAsync(i => i.Id == first.IncidentId);
        Assert.Equal(1, incident.Reopened);
        Assert.Equal(2, incident.Count);
    }

    [Fact]
    public async Task The_hourly_cap_blocks_actions_beyond_it()
    {
        var appDb = Folder.Combine("app.db");
        using var holder = TestCatalog.GrowWal(appDb);
        await using var host = NewHost(extra: [("Grace:Playbooks:test-checkpoint:CooldownSeconds", "0"), ("Grace:Engine:MaxRunsPerHour", "1")]);
        await PostAsync(host, TestCatalog.WalMessage);
        var first = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.Succeeded, first.State);
        await host.WaitForMissionAsync(m => m.Id == first.Id && m.Stage == PipelineStage.Learn, "learned");

        await PostAsync(host, TestCatalog.WalMessage);
        var second = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.Id != first.Id && m.CompletedAt != null, "blocked");
        Assert.Equal(MissionState.Blocked, second.State);
        Assert.StartsWith("Hourly cap", second.StatusReason);
    }

    [Fact]
    public async Task Dry_run_goes_through_every_stage_but_the_action()
    {
        var appDb = Folder.Combine("app.db");
        using var holder = TestCatalog.GrowWal(appDb);
        var walBefore = new FileInfo(appDb + "-wal").Length;
        await using var host = NewHost(extra: ("Grace:Engine:DryRun", "true"));
        await PostAsync(host, TestCatalog.WalMessage);
        var done = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.DryRunCompleted, done.State);
        Assert.Null(done.ExecutedAt);
        Assert.Contains(done.Events, e => e.Kind == "dry-run" && e.Message.Contains("would run", StringComparison.Ordinal));
        Assert.Equal(walBefore, new FileInfo(appDb + "-wal").Length);
    }

    private static HubConnection HubConnection(GraceHost host, string? cookie) => new HubConnectionBuilder()
        .WithUrl(new Uri(host.Server.BaseAddress, "hubs/pipeline"), o =>
        {
            o.HttpMessageHandlerFactory = _ => host.Server.CreateHandler();
            o.Transports = Microsoft.AspNetCore.Http.Connections.HttpTransportType.LongPolling;
            if (cookie is not null)
            {
                o.Headers["Cookie"] = cookie;
            }
        })
        .Build();

    [Fact]
    public async Task The_pipeline_hub_streams_mission_events_to_external_clients()
    {
        var appDb = Folder.Combine("app.db");
        using var holder = TestCatalog.GrowWal(appDb);
        await using var host = NewHost();
        // Signed out: the hub refuses.
        await using (var anonymous = HubConnection(host, cookie: null))
        {
            var refused = await Assert.ThrowsAsync<HttpRequestException>(() => anonymous.StartAsync());
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        var cookie = await host.SignInAsync("admin", TestCatalog.AdminPassword);
        var received = new TaskCompletionSource<MissionUpdated>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var connection = HubConnection(host, cookie);
        connection.On<MissionUpdated>(nameof(MissionUpdated), e =>
        {
            if (e.State == MissionState.Succeeded)
            {
                received.TrySetResult(e);
            }
        });
        await connection.StartAsync();

        await PostAsync(host, TestCatalog.WalMessage);
        var update = await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("test-checkpoint", update.PlaybookKey);
        Assert.Equal("test-db", update.Target);
    }
}
