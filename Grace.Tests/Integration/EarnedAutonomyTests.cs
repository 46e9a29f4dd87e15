using System.Net;
using System.Net.Http.Json;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Escalate;
using Grace.Engine.Gate;
using Grace.Engine.Learn;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>
/// Issue 15, earned autonomy, through the real engine on SQLite: vacuous contracts on a real SQLite
/// target's WAL, tier suggestions earned by real checkpoints and decided over the API, trust decay
/// on a real failure (notified to a webhook on a loopback port), and shadow mode on a recording
/// HTTP service that remembers every action it receives.
/// </summary>
public sealed class EarnedAutonomyTests : SqliteDatabaseTest
{
    private const string Password = "Autonomy-Test-Password-1";

    private GraceHost Host(Dictionary<string, string?> extra)
    {
        var settings = TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            // One rung per test: the ladder would retry what the test looks at.
            ["Grace:Patterns:test-wal:Escalation:Enabled"] = "false",
            ["Grace:Engine:MaxMissionStartsPerFingerprintPerHour"] = "50",
        }).ToList();
        foreach (var (key, value) in extra)
        {
            settings.RemoveAll(kv => kv.Key == key);
            settings.Add(new(key, value));
        }

        return new GraceHost(settings).Start();
    }

    private static async Task SignalAsync(GraceHost host, string message)
    {
        using var client = host.IngestClient();
        (await client.PostAsJsonAsync("/api/signals", new { source = "orders-api", message })).EnsureSuccessStatusCode();
    }

    private static async Task<Mission> FinishedAsync(GraceHost host, string playbook, HashSet<Guid> seen, string what)
    {
        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == playbook && m.CompletedAt != null && !seen.Contains(m.Id), what, 60);
        await host.WaitUntilAsync(async db => await db.Outcomes.AnyAsync(o => o.MissionId == mission.Id), 20);
        seen.Add(mission.Id);
        return mission;
    }

    [Fact]
    public async Task A_mission_whose_contract_already_holds_is_refused_before_acting_and_never_learned_as_a_success()
    {
        // No WAL at all: the checkpoint's contract "WAL ≤ 0 bytes" holds before anything runs.
        await using var host = Host(new() { ["Grace:Autonomy:VacuousContract"] = "Refuse" });
        await SignalAsync(host, TestCatalog.WalMessage);
        var mission = await FinishedAsync(host, "test-checkpoint", new HashSet<Guid>(), "refused");

        Assert.Equal(MissionState.Blocked, mission.State);
        Assert.Equal(ContractPrecheck.AlreadyHeld, mission.ContractAtPlan);
        Assert.Null(mission.ExecutedAt);
        var lines = mission.Events.OrderBy(e => e.Id).ToList();
        Assert.Contains("The contract already holds (sqlite.wal-bytes = 0) before any action", lines.Single(e => e.Kind == "planned").Message);
        Assert.Contains("Grace:Autonomy:VacuousContract = Refuse", lines.Single(e => e.Kind == "vacuous-contract").Message);
        Assert.DoesNotContain(lines, e => e.Kind is "intent" or "snapshot" or "cleared");

        await using var db = host.CreateDb();
        Assert.False((await db.Outcomes.SingleAsync(o => o.MissionId == mission.Id)).Success);
        Assert.False(await db.PlaybookStatistics.AnyAsync(s => s.PlaybookKey == "test-checkpoint"));
        Assert.Equal(0, (await host.Get<TrustService>().AssessAsync(db, "test-checkpoint", default)).Runs);
    }

    [Fact]
    public async Task With_Wait_the_mission_waits_while_the_contract_holds_and_acts_once_it_stops_holding()
    {
        await using var host = Host(new()
        {
            ["Grace:Autonomy:VacuousContract"] = "Wait",
            ["Grace:Autonomy:VacuousRecheckSeconds"] = "0.2",
            ["Grace:Autonomy:VacuousWaitSeconds"] = "120",
        });
        await SignalAsync(host, TestCatalog.WalMessage);
        var waiting = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.Events.Any(e => e.Kind == "vacuous-wait"), "waiting", 30);
        Assert.Equal(MissionState.Planned, waiting.State);
        // Still waiting a moment later, and nothing ran.
        await Task.Delay(1000);
        await using (var db = host.CreateDb())
        {
            var again = await db.Missions.AsNoTracking().SingleAsync(m => m.Id == waiting.Id);
            Assert.Equal(MissionState.Planned, again.State);
            Assert.Null(again.ExecutedAt);
        }

        // The WAL grows: the contract no longer holds, so the checkpoint proves something and runs.
        using var holder = TestCatalog.GrowWal(Folder.Combine("app.db"));
        var done = await FinishedAsync(host, "test-checkpoint", new HashSet<Guid>(), "succeeded");
        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Equal(ContractPrecheck.StoppedHolding, done.ContractAtPlan);
        Assert.Contains(done.Events, e => e.Kind == "contract-stopped-holding");
        await using var check = host.CreateDb();
        var stats = await check.PlaybookStatistics.SingleAsync(s => s.PlaybookKey == "test-checkpoint");
        Assert.Equal((1, 1), (stats.Runs, stats.Successes));
    }

    [Fact]
    public async Task With_Wait_a_contract_that_holds_until_the_deadline_is_refused()
    {
        await using var host = Host(new()
        {
            ["Grace:Autonomy:VacuousContract"] = "Wait",
            ["Grace:Autonomy:VacuousRecheckSeconds"] = "0.2",
            ["Grace:Autonomy:VacuousWaitSeconds"] = "2",
        });
        await SignalAsync(host, TestCatalog.WalMessage);
        var mission = await FinishedAsync(host, "test-checkpoint", new HashSet<Guid>(), "refused");
        Assert.Equal(MissionState.Blocked, mission.State);
        Assert.Contains("held for the whole wait of 2 s", mission.StatusReason);
        Assert.Null(mission.ExecutedAt);
    }

    [Fact]
    public void A_bad_vacuous_policy_stops_the_start_naming_the_key()
    {
        using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings())
            .Append(new("Grace:Autonomy:VacuousContract", "Sometimes")));
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        Assert.Contains("Grace:Autonomy:VacuousContract", ex.ToString());
    }

    [Fact]
    public async Task A_record_earns_a_suggestion_a_Lead_declines_then_accepts_and_a_failure_takes_the_trust_back_and_notifies()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        var appDb = Folder.Combine("app.db");
        await using var host = Host(new()
        {
            // A small bar so a test can earn it: 2 runs, lower bound 0.3 (2 of 2 gives 0.34), no rollback in the last 1.
            ["Grace:Autonomy:TierSuggestions:MinRuns"] = "2",
            ["Grace:Autonomy:TierSuggestions:MinWilsonLowerBound"] = "0.3",
            ["Grace:Autonomy:TierSuggestions:RollbackFreeRuns"] = "1",
            ["Grace:Playbooks:test-checkpoint:Tier"] = "1",
            ["Grace:Playbooks:test-checkpoint:CooldownSeconds"] = "0",
            ["Grace:Playbooks:test-checkpoint:Contract:DeadlineSeconds"] = "3",
            ["Grace:Notifications:PollIntervalSeconds"] = "0.1",
            ["Grace:Notifications:ConsoleUrl"] = "https://grace.example.test",
            ["Grace:Notifications:Webhooks:leads:Url"] = receiver.Url + "/hooks/leads",
            ["Grace:Notifications:Webhooks:leads:Secret"] = "autonomy-webhook-secret-0123456789",
            ["Grace:Notifications:Routes:0:Events:0"] = nameof(NotificationKind.TrustRevoked),
            ["Grace:Notifications:Routes:0:Channels:0"] = "leads",
        });
        await host.CreateUserAsync("lena", Password, GraceRoles.Lead);
        await host.CreateUserAsync("otto", Password, GraceRoles.Operator);
        using var lead = host.ClientWithCookie(await host.SignInAsync("lena", Password));
        using var operatorClient = host.ClientWithCookie(await host.SignInAsync("otto", Password));
        var seen = new HashSet<Guid>();

        async Task<Mission> CheckpointAsync(bool busy = false)
        {
            using var holder = TestCatalog.GrowWal(appDb, rows: 400);
            using var reading = busy ? holder.BeginTransaction() : null;
            if (reading is not null)
            {
                // A reader inside a transaction pins the WAL: the TRUNCATE checkpoint cannot finish.
                using var select = holder.CreateCommand();
                select.Transaction = reading;
                select.CommandText = "SELECT count(*) FROM orders;";
                select.ExecuteScalar();
            }

            await SignalAsync(host, TestCatalog.WalMessage);
            return await FinishedAsync(host, "test-checkpoint", seen, "finished");
        }

        async Task<TierSuggestion?> OpenSuggestionAsync()
        {
            await using var db = host.CreateDb();
            return await db.TierSuggestions.AsNoTracking().SingleOrDefaultAsync(t => t.PlaybookKey == "test-checkpoint" && t.Status == TierSuggestionStatus.Open);
        }

        Assert.Equal(MissionState.Succeeded, (await CheckpointAsync()).State);
        Assert.Null(await OpenSuggestionAsync()); // One run: not enough.
        Assert.Equal(MissionState.Succeeded, (await CheckpointAsync()).State);
        await host.WaitUntilAsync(async db => await db.TierSuggestions.AnyAsync(t => t.PlaybookKey == "test-checkpoint"), 20);
        var first = (await OpenSuggestionAsync())!;
        Assert.Equal((1, 0, 2, 2), (first.FromTier, first.ToTier, first.Runs, first.Successes));

        // The API tells how far it is, and who may decide.
        var overview = await lead.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/trust");
        var row = overview.EnumerateArray().Single(r => r.GetProperty("playbook").GetString() == "test-checkpoint");
        Assert.True(row.GetProperty("eligible").GetBoolean());
        Assert.Equal(first.Id, row.GetProperty("suggestion").GetProperty("id").GetGuid());
        var forbidden = await operatorClient.PostAsJsonAsync($"/api/trust/suggestions/{first.Id}/accept", new { });
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Contains("Lead or Admin", await forbidden.Content.ReadAsStringAsync());
        var noReason = await lead.PostAsJsonAsync($"/api/trust/suggestions/{first.Id}/decline", new { });
        Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
        Assert.Contains("reason", await noReason.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await lead.PostAsJsonAsync($"/api/trust/suggestions/{Guid.NewGuid()}/accept", new { })).StatusCode);

        (await lead.PostAsJsonAsync($"/api/trust/suggestions/{first.Id}/decline", new { reason = "not during the freeze" })).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.Conflict, (await lead.PostAsJsonAsync($"/api/trust/suggestions/{first.Id}/accept", new { })).StatusCode);
        await using (var db = host.CreateDb())
        {
            var declined = await db.AuditEntries.AsNoTracking().SingleAsync(a => a.Action == "playbook.tier-suggestion.decline");
            Assert.Equal("lena", declined.Actor);
            Assert.Contains("Evidence: 2 runs, 2 successes", declined.Detail);
            Assert.Contains("not during the freeze", declined.Detail);
            Assert.Equal(1, await host.Get<PlaybookTiers>().TierOfAsync(db, "test-checkpoint", default));
        }

        // One more run: the record has grown since the decline, so it is suggested again; this time accepted.
        Assert.Equal(MissionState.Succeeded, (await CheckpointAsync()).State);
        await host.WaitUntilAsync(async db => await db.TierSuggestions.AnyAsync(t => t.PlaybookKey == "test-checkpoint" && t.Status == TierSuggestionStatus.Open), 20);
        var second = (await OpenSuggestionAsync())!;
        Assert.Equal(3, second.Runs);
        var accepted = await lead.PostAsJsonAsync($"/api/trust/suggestions/{second.Id}/accept", new { reason = "its record speaks for it" });
        accepted.EnsureSuccessStatusCode();
        await using (var db = host.CreateDb())
        {
            Assert.Equal(0, await host.Get<PlaybookTiers>().TierOfAsync(db, "test-checkpoint", default));
            var audit = await db.AuditEntries.AsNoTracking().SingleAsync(a => a.Action == "playbook.tier-suggestion.accept");
            Assert.Equal("lena", audit.Actor);
            Assert.Contains("tier 1 → 0 accepted. Evidence: 3 runs, 3 successes", audit.Detail);
            Assert.Contains("lower bound 0.438", audit.Detail);
        }

        // The next run acts on tier 0, and fails: the tier goes back to 1 at once.
        var failed = await CheckpointAsync(busy: true);
        Assert.Equal(0, failed.Tier);
        Assert.Contains(failed.State, new[] { MissionState.RolledBack, MissionState.Failed });
        await host.WaitUntilAsync(async db => await db.MissionEvents.AnyAsync(e => e.MissionId == failed.Id && e.Kind == "trust-revoked"), 20);
        await using (var db = host.CreateDb())
        {
            Assert.Equal(1, await host.Get<PlaybookTiers>().TierOfAsync(db, "test-checkpoint", default));
            var line = await db.MissionEvents.AsNoTracking().SingleAsync(e => e.MissionId == failed.Id && e.Kind == "trust-revoked");
            Assert.Contains("Its tier is back to 1 at once", line.Message);
            var revokedAudit = await db.AuditEntries.AsNoTracking().SingleAsync(a => a.Action == "playbook.tier.revoked");
            Assert.Equal(Actor.EngineName, revokedAudit.Actor);
            Assert.Contains("tier 0 → 1", revokedAudit.Detail);
            Assert.Equal(TierSuggestionStatus.Revoked, (await db.TierSuggestions.AsNoTracking().SingleAsync(t => t.Id == second.Id)).Status);
        }

        // The Leads' webhook hears of it.
        for (var deadline = DateTime.UtcNow.AddSeconds(20); receiver.Received.Count == 0 && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(100);
        }

        var hook = Assert.Single(receiver.Received);
        Assert.Equal("/hooks/leads", hook.Path);
        Assert.Contains("TrustRevoked", hook.Body);
        Assert.Contains("test-checkpoint", hook.Body);
        Assert.Contains(failed.Id.ToString(), hook.Body);
    }

    private static Dictionary<string, string?> Recorder(RecordingTarget recording) => new()
    {
        ["Grace:Targets:rec:Kind"] = "Http",
        ["Grace:Targets:rec:Url"] = recording.Url,
        ["Grace:Patterns:test-rec:MessageRegex"] = "test recorder needed",
        ["Grace:Patterns:test-rec:Playbooks:0"] = "rec-act",
        ["Grace:Patterns:test-rec:Escalation:Enabled"] = "false",
        ["Grace:Playbooks:rec-act:Action"] = "http.call",
        ["Grace:Playbooks:rec-act:Target"] = "rec",
        ["Grace:Playbooks:rec-act:Tier"] = "0",
        ["Grace:Playbooks:rec-act:Shadow"] = "true",
        ["Grace:Playbooks:rec-act:Parameters:Path"] = RecordingTarget.PathOf("rec", "act"),
        ["Grace:Playbooks:rec-act:Parameters:RollbackPath"] = RecordingTarget.PathOf("rec", "undo"),
        // A path the service does not know (404): the contract does not hold before the action, so it is not vacuous.
        ["Grace:Playbooks:rec-act:Contract:Probe"] = "http.status",
        ["Grace:Playbooks:rec-act:Contract:Parameters:Path"] = RecordingTarget.PathOf("rec", "missing"),
        ["Grace:Playbooks:rec-act:Contract:Comparator"] = "LessThan",
        ["Grace:Playbooks:rec-act:Contract:Threshold"] = "400",
        ["Grace:Playbooks:rec-act:Contract:DeadlineSeconds"] = "2",
    };

    [Fact]
    public async Task With_Act_a_vacuous_mission_acts_but_is_never_learned_as_a_success()
    {
        await using var recording = await RecordingTarget.StartAsync();
        var settings = Recorder(recording);
        settings["Grace:Playbooks:rec-act:Shadow"] = "false";
        // The witness contract: /ok answers 200 before anything runs (the test catalog sets Act).
        settings["Grace:Playbooks:rec-act:Contract:Parameters:Path"] = RecordingTarget.PathOf("rec", "ok");
        await using var host = Host(settings);
        await SignalAsync(host, "Labels stuck: test recorder needed");
        var mission = await FinishedAsync(host, "rec-act", new HashSet<Guid>(), "acted");

        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.Equal(ContractPrecheck.AlreadyHeld, mission.ContractAtPlan);
        Assert.NotNull(mission.ExecutedAt);
        Assert.Equal(mission.Id.ToString(), Assert.Single(recording.Actions).Mission);
        Assert.Contains("Grace:Autonomy:VacuousContract = Act", mission.Events.Single(e => e.Kind == "planned").Message);
        await using var db = host.CreateDb();
        Assert.False((await db.Outcomes.SingleAsync(o => o.MissionId == mission.Id)).Success);
        Assert.False(await db.PlaybookStatistics.AnyAsync(s => s.PlaybookKey == "rec-act"));
        Assert.Contains("proves nothing", (await db.MissionEvents.AsNoTracking().SingleAsync(e => e.MissionId == mission.Id && e.Kind == "learned")).Message);
    }

    [Fact]
    public async Task In_shadow_Grace_gates_and_snapshots_but_does_not_act_and_a_person_running_the_same_playbook_is_an_agreement()
    {
        await using var recording = await RecordingTarget.StartAsync();
        await using var host = Host(Recorder(recording));
        await SignalAsync(host, "Shipping labels stuck: test recorder needed");
        var shadow = await FinishedAsync(host, "rec-act", new HashSet<Guid>(), "shadow recorded");

        Assert.Equal(MissionState.ShadowRecorded, shadow.State);
        Assert.True(shadow.Shadow);
        Assert.Null(shadow.ExecutedAt);
        var lines = shadow.Events.OrderBy(e => e.Id).ToList();
        Assert.Contains("Shadow mode", lines.Single(e => e.Kind == "planned").Message);
        Assert.Contains(lines, e => e.Kind == "snapshot" && e.Message.StartsWith("Safe-hold snapshot (shadow)", StringComparison.Ordinal));
        var recorded = lines.Single(e => e.Kind == "shadow");
        Assert.Contains("would run", recorded.Message);
        Assert.Contains("Nothing ran", recorded.Message);
        Assert.Empty(recording.Actions);
        await using (var db = host.CreateDb())
        {
            Assert.Equal(ShadowVerdict.Pending, (await db.Missions.AsNoTracking().SingleAsync(m => m.Id == shadow.Id)).ShadowVerdict);
            Assert.Equal(IncidentStatus.Open, (await db.Incidents.AsNoTracking().SingleAsync(i => i.Id == shadow.IncidentId)).Status);
            Assert.False(await db.PlaybookStatistics.AnyAsync(s => s.PlaybookKey == "rec-act"));
        }

        // A person runs the same playbook on the incident: it acts for real (once), and the shadow recording agreed with them.
        var personal = await host.Get<IncidentService>().RunPlaybookAsync(shadow.IncidentId, "rec-act", dryRun: false, new Actor("otto", [GraceRoles.Operator]), default);
        await host.WaitUntilAsync(async db => await db.Missions.AnyAsync(m => m.Id == shadow.Id && m.ShadowVerdict == ShadowVerdict.Agreed), 30);
        await host.WaitForMissionAsync(m => m.Id == personal && m.CompletedAt != null, "finished", 30);
        var act = Assert.Single(recording.Actions);
        Assert.Equal(personal.ToString(), act.Mission);

        await using (var db = host.CreateDb())
        {
            var verdict = await db.MissionEvents.AsNoTracking().SingleAsync(e => e.MissionId == shadow.Id && e.Kind == "shadow-verdict");
            Assert.Contains("otto ran the same playbook", verdict.Message);
            var trust = (await host.Get<TrustService>().OverviewAsync(host.Get<ShadowMode>(), default)).Single(p => p.PlaybookKey == "rec-act");
            Assert.True(trust.Shadow);
            Assert.Equal((1, 1, 1.0), (trust.ShadowStats.WouldHaveActed, trust.ShadowStats.Agreed, trust.ShadowStats.AgreementRate!.Value));
            // The agreement is part of the record the tier rule reads.
            Assert.Equal(1, trust.Assessment.ShadowAgreements);
        }
    }

    [Theory]
    [InlineData("rec-act", ApprovalStatus.Approved, ShadowVerdict.Agreed, "lena approved the same playbook")]
    [InlineData("other-playbook", ApprovalStatus.Approved, ShadowVerdict.Disagreed, "lena approved 'other-playbook' instead")]
    [InlineData("rec-act", ApprovalStatus.Rejected, ShadowVerdict.Disagreed, "lena rejected the same playbook on the incident")]
    public async Task People_approving_or_rejecting_a_later_mission_on_the_incident_judge_the_shadow_recording(
        string laterPlaybook, ApprovalStatus decided, ShadowVerdict expected, string why)
    {
        await using var host = Host(new());
        var now = DateTimeOffset.UtcNow;
        var incident = new Incident
        {
            Id = Guid.NewGuid(), Fingerprint = Guid.NewGuid().ToString("N"), Source = "orders-api", Template = "t", SampleMessage = "Shipping labels stuck",
            Severity = Severity.Error, FirstSeenAt = now, LastSeenAt = now, Count = 3, Status = IncidentStatus.Open, PatternKey = "rec-pattern",
        };
        Mission MissionOf(string playbook, MissionState state, DateTimeOffset at, bool shadow) => new()
        {
            Id = Guid.NewGuid(), IncidentId = incident.Id, PatternKey = "rec-pattern", PlaybookKey = playbook, Action = "http.call", Target = "recorder",
            Parameters = "{}", Tier = 2, State = state, RequestedBy = "engine", CreatedAt = at, UpdatedAt = at, CompletedAt = at,
            Shadow = shadow, ShadowVerdict = shadow ? ShadowVerdict.Pending : ShadowVerdict.None,
        };
        var shadowMission = MissionOf("rec-act", MissionState.ShadowRecorded, now, shadow: true);
        var later = MissionOf(laterPlaybook, decided == ApprovalStatus.Approved ? MissionState.Succeeded : MissionState.Rejected, now.AddMinutes(1), shadow: false);
        var approval = new Approval
        {
            Id = Guid.NewGuid(), MissionId = later.Id, RequiredCount = 1, RequestedBy = "engine", RequestedAt = later.CreatedAt,
            ExpiresAt = later.CreatedAt.AddMinutes(30), Status = decided,
        };
        await using (var db = host.CreateDb())
        {
            db.Incidents.Add(incident);
            db.Missions.AddRange(shadowMission, later);
            db.Approvals.Add(approval);
            db.ApprovalDecisions.Add(new ApprovalDecision
            {
                Id = Guid.NewGuid(), ApprovalId = approval.Id, UserName = "lena", At = later.CreatedAt, Via = DecisionVia.Console,
                Verdict = decided == ApprovalStatus.Approved ? ApprovalVerdict.Approve : ApprovalVerdict.Reject,
                Reason = decided == ApprovalStatus.Rejected ? "the queue drains by itself" : null,
            });
            await db.SaveChangesAsync();
        }

        // The sweep judges too; either way the verdict is read from what people did.
        await host.Get<ShadowMode>().JudgeAsync(default);
        await host.WaitUntilAsync(async db => await db.Missions.AnyAsync(m => m.Id == shadowMission.Id && m.ShadowVerdict != ShadowVerdict.Pending), 20);
        await using (var db = host.CreateDb())
        {
            Assert.Equal(expected, (await db.Missions.AsNoTracking().SingleAsync(m => m.Id == shadowMission.Id)).ShadowVerdict);
            var line = await db.MissionEvents.AsNoTracking().SingleAsync(e => e.MissionId == shadowMission.Id && e.Kind == "shadow-verdict");
            Assert.Contains(why, line.Message);
        }
    }

    [Fact]
    public async Task A_shadow_recording_whose_incident_heals_alone_is_marked_healed_without_action_and_a_Lead_toggles_shadow_with_an_audit()
    {
        await using var recording = await RecordingTarget.StartAsync();
        await using var host = Host(Recorder(recording));
        const string message = "Invoices stuck: test recorder needed";
        await SignalAsync(host, message);
        var shadow = await FinishedAsync(host, "rec-act", new HashSet<Guid>(), "shadow recorded");
        Assert.Equal(MissionState.ShadowRecorded, shadow.State);

        // The source says it is over; nobody acted.
        Assert.True(host.Get<ISignalSink>().TryWrite(new Signal("orders-api", message, Severity.Information, DateTimeOffset.UtcNow, Resolved: true)));
        await host.WaitUntilAsync(async db => await db.Missions.AnyAsync(m => m.Id == shadow.Id && m.ShadowVerdict == ShadowVerdict.HealedWithoutAction), 30);
        Assert.Empty(recording.Actions);
        var trust = (await host.Get<TrustService>().OverviewAsync(host.Get<ShadowMode>(), default)).Single(p => p.PlaybookKey == "rec-act");
        Assert.Equal(1.0, trust.ShadowStats.HealedWithoutActionRate);
        Assert.Equal(0.0, trust.ShadowStats.AgreementRate);

        // The runtime toggle: Leads only, with a reason, audited; off, the playbook acts again.
        await host.CreateUserAsync("lena", Password, GraceRoles.Lead);
        await host.CreateUserAsync("otto", Password, GraceRoles.Operator);
        using var lead = host.ClientWithCookie(await host.SignInAsync("lena", Password));
        using var operatorClient = host.ClientWithCookie(await host.SignInAsync("otto", Password));
        Assert.Equal(HttpStatusCode.Forbidden, (await operatorClient.PostAsJsonAsync("/api/playbooks/rec-act/shadow", new { enabled = false, reason = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await lead.PostAsJsonAsync("/api/playbooks/rec-act/shadow", new { enabled = false })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await lead.PostAsJsonAsync("/api/playbooks/no-such/shadow", new { enabled = false, reason = "x" })).StatusCode);
        (await lead.PostAsJsonAsync("/api/playbooks/rec-act/shadow", new { enabled = false, reason = "it agreed with us for a month" })).EnsureSuccessStatusCode();
        await using (var db = host.CreateDb())
        {
            var audit = await db.AuditEntries.AsNoTracking().SingleAsync(a => a.Action == "playbook.shadow");
            Assert.Equal("lena", audit.Actor);
            Assert.Equal("shadow on → off: it agreed with us for a month", audit.Detail);
        }

        await SignalAsync(host, "Refunds stuck: test recorder needed");
        var real = await FinishedAsync(host, "rec-act", new HashSet<Guid> { shadow.Id }, "acted");
        Assert.False(real.Shadow);
        Assert.NotNull(real.ExecutedAt);
        Assert.Equal(real.Id.ToString(), Assert.Single(recording.Actions).Mission);
    }
}
