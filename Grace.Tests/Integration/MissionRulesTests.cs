using System.Net;
using System.Net.Http.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Notifications;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Grace.Tests.Integration;

/// <summary>
/// The gate's and the approvers' rules on a real host, on each database Grace runs on (a SQLite
/// file and a PostgreSQL database): expiry, distinct approvers, decisions at the same moment, the
/// kill switch, deferral while another mission acts, recovery.
/// </summary>
public abstract class MissionRulesTests(DatabaseProvider provider) : DatabaseTest(provider)
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

    /// <summary>
    /// Holds the first two saves that record an approval decision until both are waiting, so two
    /// people's decisions really meet in the database instead of one request finishing first.
    /// </summary>
    private sealed class DecisionRendezvous
    {
        private readonly TaskCompletionSource _both = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _arrived;

        /// <summary>Off while a test arranges decisions that must not wait.</summary>
        public volatile bool Armed;

        /// <summary>How many saves met another one.</summary>
        public int Met => Math.Min(Volatile.Read(ref _arrived), 2);

        public void OnSaving(object? sender, SavingChangesEventArgs e)
        {
            if (!Armed || !((DbContext)sender!).ChangeTracker.Entries<ApprovalDecision>().Any(d => d.State == EntityState.Added))
            {
                return;
            }

            if (Interlocked.Increment(ref _arrived) == 2)
            {
                _both.TrySetResult();
            }

            if (Volatile.Read(ref _arrived) <= 2)
            {
                _both.Task.Wait(TimeSpan.FromSeconds(10));
            }
        }

        /// <summary>Wraps Grace's context factory so that every context it makes reports its saves here.</summary>
        public void Install(IServiceCollection services) => SavingHook.Install(services, OnSaving);
    }

    private static async Task<HttpClient> OperatorAsync(GraceHost host, string name)
    {
        await host.CreateUserAsync(name, "Operator-Password-1", GraceRoles.Operator);
        return host.ClientWithCookie(await host.SignInAsync(name, "Operator-Password-1"));
    }

    private static Task<HttpResponseMessage> ApproveOverHttpAsync(HttpClient client, Guid mission) =>
        client.PostAsync($"/api/missions/{mission}/approve", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));

    /// <summary>Two approvals posted at the same moment: one 200, one 409 saying so; returns the winner's name.</summary>
    private static async Task<string> RaceAsync(DecisionRendezvous rendezvous, Guid mission, (string Name, HttpClient Client) first, (string Name, HttpClient Client) second)
    {
        rendezvous.Armed = true;
        var answers = await Task.WhenAll(ApproveOverHttpAsync(first.Client, mission), ApproveOverHttpAsync(second.Client, mission));
        Assert.Equal(2, rendezvous.Met);
        Assert.Equal(new[] { HttpStatusCode.OK, HttpStatusCode.Conflict }, answers.Select(a => a.StatusCode).Order());
        var lost = answers.Single(a => a.StatusCode == HttpStatusCode.Conflict);
        Assert.Contains("Someone else decided on this mission at the same moment", await lost.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var won = answers.Single(a => a.StatusCode == HttpStatusCode.OK);
        var body = await won.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.Equal(mission, body.GetProperty("mission").GetGuid());
        Assert.Equal(nameof(ApprovalStatus.Approved), body.GetProperty("status").GetString());
        return answers[0].StatusCode == HttpStatusCode.OK ? first.Name : second.Name;
    }

    [Fact]
    public async Task Two_operators_approving_a_tier2_mission_at_once_one_wins_the_other_gets_409_and_one_decision_is_audited()
    {
        TestCatalog.FillCache(Cache);
        var rendezvous = new DecisionRendezvous();
        await using var host = NewHost(services: rendezvous.Install);
        using var olivia = await OperatorAsync(host, "olivia");
        using var oscar = await OperatorAsync(host, "oscar");
        await PostAsync(host, TestCatalog.CacheMessage);
        var waiting = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");

        var winner = await RaceAsync(rendezvous, waiting.Id, ("olivia", olivia), ("oscar", oscar));

        var done = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Single(done.Events, e => e.Kind == "approved" && e.Actor == winner);
        Assert.Single(done.Events, e => e.Kind == "intent");
        await using var db = host.CreateDb();
        Assert.Equal(winner, Assert.Single(await db.ApprovalDecisions.ToListAsync()).UserName);
        Assert.Equal(winner, Assert.Single(await db.AuditEntries.Where(a => a.Subject == $"mission/{waiting.Id}").ToListAsync()).Actor);
    }

    [Fact]
    public async Task Two_last_approvals_of_a_tier3_mission_at_once_one_wins_the_other_gets_409_and_each_decision_is_audited_once()
    {
        TestCatalog.FillCache(Cache);
        var rendezvous = new DecisionRendezvous();
        await using var host = NewHost(cacheTier: 3, services: rendezvous.Install);
        using var olivia = await OperatorAsync(host, "olivia");
        using var oscar = await OperatorAsync(host, "oscar");
        await PostAsync(host, TestCatalog.CacheMessage);
        var waiting = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        Assert.Equal(ApprovalStatus.Pending, await host.Get<ApprovalService>().DecideAsync(waiting.Id, new Actor("lena", [GraceRoles.Lead]), ApprovalVerdict.Approve, null, default));

        var winner = await RaceAsync(rendezvous, waiting.Id, ("olivia", olivia), ("oscar", oscar));

        var done = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Contains(done.Events, e => e.Kind == "approved" && e.Actor == winner && e.Message.Contains("2 of 2", StringComparison.Ordinal));
        await using var db = host.CreateDb();
        var expected = new[] { "lena", winner }.Order(StringComparer.Ordinal);
        Assert.Equal(expected, (await db.ApprovalDecisions.Select(d => d.UserName).ToListAsync()).Order(StringComparer.Ordinal));
        Assert.Equal(expected, (await db.AuditEntries.Where(a => a.Subject == $"mission/{waiting.Id}").Select(a => a.Actor).ToListAsync()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_gate_defers_a_mission_while_another_acts_on_its_target_and_runs_it_afterwards()
    {
        TestCatalog.FillCache(Cache);
        await using var host = NewHost(2, null,
            // A: clears the cache, then waits out a contract that cannot hold (the cache stays empty), and rolls back.
            ("Grace:Playbooks:test-clear-cache:Tier", "0"),
            ("Grace:Playbooks:test-clear-cache:Contract:Comparator", "GreaterThanOrEqual"),
            ("Grace:Playbooks:test-clear-cache:Contract:Threshold", "1"),
            ("Grace:Playbooks:test-clear-cache:Contract:DeadlineSeconds", "4"),
            // B: another playbook on the same target.
            ("Grace:Patterns:test-breaker:MessageRegex", "test cache calls failing"),
            ("Grace:Patterns:test-breaker:Playbooks:0", "test-reset-breaker"),
            ("Grace:Playbooks:test-reset-breaker:Action", "breaker.reset"),
            ("Grace:Playbooks:test-reset-breaker:Target", "test-cache"),
            ("Grace:Playbooks:test-reset-breaker:Tier", "0"),
            ("Grace:Playbooks:test-reset-breaker:Contract:Probe", "breaker.state"),
            ("Grace:Playbooks:test-reset-breaker:Contract:Comparator", "Equal"),
            ("Grace:Playbooks:test-reset-breaker:Contract:Threshold", "0"),
            ("Grace:Playbooks:test-reset-breaker:Contract:DeadlineSeconds", "5"));
        await PostAsync(host, TestCatalog.CacheMessage);
        var acting = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-clear-cache" && m.State == MissionState.Verifying, "verifying");

        await PostAsync(host, "Thumbnailer: test cache calls failing");
        var deferred = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-reset-breaker" && m.Events.Any(e => e.Kind == "deferred"), "deferred");
        Assert.Contains("Target 'test-cache' already has 1 mission(s) in flight", deferred.Events.Single(e => e.Kind == "deferred").Message, StringComparison.Ordinal);

        var first = await host.WaitForMissionAsync(m => m.Id == acting.Id && m.CompletedAt != null, "finished");
        var second = await host.WaitForMissionAsync(m => m.Id == deferred.Id && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.RolledBack, first.State);
        Assert.Equal(MissionState.Succeeded, second.State);
        // Nothing of the second ran until the first was done with the target.
        Assert.True(second.Events.Single(e => e.Kind == "intent").At >= first.CompletedAt, "the deferred mission acted only after the first one ended");
        Assert.True(deferred.Events.Single(e => e.Kind == "deferred").At < first.CompletedAt);
    }

    [Fact]
    public async Task An_incident_covered_by_a_mission_that_fails_is_open_again_for_people()
    {
        await using var host = NewHost(2, null, ("Grace:Playbooks:test-debug-logging:Tier", "2"),
            ("Grace:Patterns:test-logging-again:MessageRegex", "debug needed again"), ("Grace:Patterns:test-logging-again:Playbooks:0", "test-debug-logging"));
        await PostAsync(host, TestCatalog.LoggingMessage);
        var waiting = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-debug-logging" && m.State == MissionState.AwaitingApproval, "awaiting approval");
        await PostAsync(host, "Checkout: debug needed again");
        var covering = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.Events.Any(e => e.Kind == "covers"), "covering the second incident");
        var covered = await host.WaitForIncidentAsync(i => i.Id != covering.IncidentId && i.Status == IncidentStatus.Mitigating);

        await host.Get<ApprovalService>().DecideAsync(waiting.Id, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default);
        var done = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.Stage == PipelineStage.Learn, "learned", 30);

        Assert.Equal(MissionState.RolledBack, done.State);
        await host.WaitForIncidentAsync(i => i.Id == covered.Id && i.Status == IncidentStatus.Open);
        await host.WaitForIncidentAsync(i => i.Id == done.IncidentId && i.Status == IncidentStatus.Open);
    }

    [Fact]
    public async Task A_mission_approved_but_not_acted_on_when_its_instance_stopped_runs_once_after_the_restart()
    {
        TestCatalog.FillCache(Cache);
        Guid missionId;
        await using (var first = NewHost())
        {
            await PostAsync(first, TestCatalog.CacheMessage);
            missionId = (await first.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval")).Id;
        }

        // The approval was committed, then the instance died before its grain acted on it.
        await using (var db = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings())).CreateDbWithoutStarting())
        {
            var mission = await db.Missions.Include(m => m.Approval).SingleAsync(m => m.Id == missionId);
            mission.State = MissionState.Approved;
            mission.Approval!.Status = ApprovalStatus.Approved;
            mission.Instance = "instance-that-died";
            await db.SaveChangesAsync();
        }

        Assert.True(Directory.EnumerateFileSystemEntries(Cache).Any(), "nothing acted while no instance ran");
        await using var second = NewHost();
        var done = await second.WaitForMissionAsync(m => m.Id == missionId && m.CompletedAt != null, "finished after the restart");
        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Single(done.Events, e => e.Kind == "intent");
        Assert.NotNull(done.Instance);
        Assert.NotEqual("instance-that-died", done.Instance); // The instance running now did it.
        Assert.Empty(Directory.EnumerateFileSystemEntries(Cache));
    }

    [Fact]
    public async Task Two_instances_on_one_database_form_one_cluster_or_the_second_refuses_to_start()
    {
        TestCatalog.FillCache(Cache);
        if (Database.Provider == DatabaseProvider.Sqlite)
        {
            // On SQLite Grace runs alone: a second instance on the same file would act independently, so it does not start.
            await using var only = NewHost();
            using var refused = new GraceHost(TestCatalog.Settings(Folder, 2).Concat(Database.Settings()));
            var ex = Assert.ThrowsAny<Exception>(() => refused.Start());
            Assert.Contains("Another Grace is running on the database", ex.ToString(), StringComparison.Ordinal);
            return;
        }

        GraceHost Instance(string name) => new GraceHost(TestCatalog.Settings(Folder, 2).Concat(Database.Settings(name, targetsOn: "instance-a"))).Start();
        await using var first = Instance("instance-a");
        await using var second = Instance("instance-b");
        await PostAsync(second, TestCatalog.CacheMessage);
        var waiting = await first.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");

        // Approved through the instance the target does not live on: the target's own instance acts, once.
        await second.Get<ApprovalService>().DecideAsync(waiting.Id, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default);
        var done = await second.WaitForMissionAsync(m => m.Id == waiting.Id && m.Stage == PipelineStage.Learn, "learned");

        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Equal("instance-a", done.Instance);
        foreach (var kind in new[] { "awaiting-approval", "intent", "executed", "contract-met", "learned" })
        {
            Assert.Single(done.Events, e => e.Kind == kind);
        }

        await using var db = first.CreateDb();
        Assert.Single(await db.Snapshots.Where(s => s.MissionId == waiting.Id && s.Purpose == "pre-execution").ToListAsync());
        Assert.Single(await db.Outcomes.Where(o => o.MissionId == waiting.Id).ToListAsync());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Cache));
    }

    [Fact]
    public async Task A_tier1_mission_runs_without_approval_and_notifies_operators()
    {
        var appDb = Folder.Combine("app.db");
        using var holder = TestCatalog.GrowWal(appDb);
        await using var host = NewHost(2, null, ("Grace:Playbooks:test-checkpoint:Tier", "1"));
        var notified = new TaskCompletionSource<OperatorNotification>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var connection = HubConnection(host, await host.SignInAsync("admin", TestCatalog.AdminPassword));
        connection.On<OperatorNotification>(nameof(OperatorNotification), n => notified.TrySetResult(n));
        await connection.StartAsync();

        await PostAsync(host, TestCatalog.WalMessage);
        var notice = await notified.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var done = await host.WaitForMissionAsync(m => m.Id == notice.MissionId && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Null(done.Approval);
        Assert.Contains("Tier 1 action 'test-checkpoint' on 'test-db' is running", notice.Message, StringComparison.Ordinal);
    }

    private static HubConnection HubConnection(GraceHost host, string? cookie) => new HubConnectionBuilder()
        .WithUrl(new Uri(host.Server.BaseAddress, "hubs/pipeline"), o =>
        {
            o.HttpMessageHandlerFactory = _ => host.Server.CreateHandler();
            o.Transports = Microsoft.AspNetCore.Http.Connections.HttpTransportType.ServerSentEvents; // Long polling is not offered on the hub (see ConnectionLimits).
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

public sealed class SqliteMissionRulesTests() : MissionRulesTests(DatabaseProvider.Sqlite);

public sealed class PostgresMissionRulesTests() : MissionRulesTests(DatabaseProvider.Postgres);
