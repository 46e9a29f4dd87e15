using Bunit;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Notifications;
using Grace.Web.Components.Layout;
using Grace.Web.Components.Pages.Approvals;
using Grace.Web.Components.Pages.Audit;
using Grace.Web.Components.Pages.Incidents;
using Grace.Web.Components.Pages.Learning;
using Grace.Web.Components.Pages.Missions;
using Grace.Web.Components.Pages.Overview;
using Grace.Web.Components.Pages.Playbooks;
using Grace.Web.Components.Pages.Verification;
using Grace.Web.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Components;

public sealed class OverviewTests : GraceComponentTest
{
    internal static AngleSharp.Dom.IElement InputOf<T>(IRenderedComponent<T> cut, string selector) where T : IComponent
    {
        var element = cut.Find(selector);
        return element.TagName == "INPUT" ? element : element.QuerySelector("input") ?? throw new InvalidOperationException($"No input at {selector}");
    }

    [Fact]
    public void Loading_then_empty_counters()
    {
        Factory.Hold = new TaskCompletionSource();
        var cut = Render<Overview>();
        cut.Find("#overview-loading");
        Factory.Hold.SetResult();
        cut.WaitForAssertion(() =>
        {
            Assert.Equal("0", cut.Find("#count-pending").TextContent);
            Assert.Contains("No mission failed", cut.Find("#no-trouble").TextContent);
            Assert.Contains("0 dropped", cut.Find("#capture-dropped").TextContent);
        });
    }

    [Fact]
    public async Task Counters_show_pending_trouble_and_move_live()
    {
        await SeedMissionAsync(state: MissionState.AwaitingApproval, requiredApprovals: 1);
        var cut = Render<Overview>();
        cut.WaitForAssertion(() => Assert.Equal("1", cut.Find("#count-pending").TextContent));

        var failed = await SeedMissionAsync(playbook: "test-checkpoint", state: MissionState.RolledBack);
        Notifier.Publish(new MissionUpdated(DateTimeOffset.UtcNow, failed.Id, failed.IncidentId, failed.PlaybookKey, failed.Target, 0, MissionState.RolledBack, PipelineStage.Rollback, "engine", "rolled back"));
        cut.WaitForAssertion(() =>
        {
            Assert.Equal("1", cut.Find("#count-trouble").TextContent);
            Assert.Contains("test-checkpoint", cut.Find("tr.trouble-row").TextContent);
            Assert.Equal("2", cut.Find("#count-incidents").TextContent);
        }, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Operators_see_the_kill_switch_state_but_not_its_control()
    {
        var cut = Render<Overview>();
        cut.WaitForAssertion(() => Assert.Contains("Released", cut.Find("#kill-switch-state").TextContent));
        Assert.Empty(cut.FindAll("#kill-switch-toggle"));
    }

    [Fact]
    public async Task Leads_engage_the_kill_switch_with_a_reason()
    {
        SignIn("lena", GraceRoles.Lead);
        var cut = Render<Overview>();
        cut.WaitForAssertion(() => Assert.True(cut.Find("#kill-switch-toggle").HasAttribute("disabled")));
        InputOf(cut, "#kill-switch-reason").Input("database migration");
        cut.WaitForAssertion(() => Assert.False(cut.Find("#kill-switch-toggle").HasAttribute("disabled")));
        cut.Find("#kill-switch-toggle").Click();
        cut.WaitForAssertion(() => Assert.Contains("Engaged", cut.Find("#kill-switch-state").TextContent));
        Assert.True(await Services.GetRequiredService<KillSwitch>().IsEngagedAsync(default));
    }

    [Fact]
    public void A_database_failure_is_shown()
    {
        Factory.Broken = true;
        var cut = Render<Overview>();
        cut.WaitForAssertion(() => Assert.Contains("database unreachable", cut.Find("#overview-error").TextContent));
    }
}

public sealed class ApprovalsPageTests : GraceComponentTest
{
    private static AngleSharp.Dom.IElement InputOf<T>(IRenderedComponent<T> cut, string selector) where T : IComponent => OverviewTests.InputOf(cut, selector);

    [Fact]
    public void Loading_then_nothing_waits()
    {
        Factory.Hold = new TaskCompletionSource();
        var cut = Render<Approvals>();
        cut.Find("#approvals-loading");
        Factory.Hold.SetResult();
        cut.WaitForAssertion(() => cut.Find("#approvals-empty"));
    }

    [Fact]
    public async Task A_card_shows_impact_contract_snapshot_what_the_approval_holds_for_history_requester_and_countdown()
    {
        await SeedMissionAsync(state: MissionState.AwaitingApproval, requiredApprovals: 2, tier: 3, expiresIn: TimeSpan.FromMinutes(12));
        var cut = Render<Approvals>();
        cut.WaitForAssertion(() =>
        {
            var card = cut.Find(".approval-card");
            Assert.Contains("Tier 3", card.TextContent);
            Assert.Contains("Moves every entry", cut.Find(".approval-impact").TextContent);
            Assert.Equal("directory.bytes of test-cache is at most 0 B within 30 s of the action (now 80 KiB)", cut.Find(".approval-contract").TextContent);
            Assert.Contains("20 entries", card.TextContent);
            Assert.Equal("20 files in 1 folder, 80 KiB", cut.Find(".approval-basis").TextContent);
            Assert.Contains("Never run on this pattern", cut.Find(".approval-history").TextContent);
            Assert.Contains("Requested by api", card.TextContent);
            Assert.Contains("0 of 2 approvals", cut.Find(".approval-progress").TextContent);
            Assert.Matches(@"Expires in 1[12]:\d\d", cut.Find(".approval-countdown").TextContent);
        });
    }

    [Fact]
    public async Task An_operator_approves_and_the_card_leaves_the_queue()
    {
        var mission = await SeedMissionAsync(state: MissionState.AwaitingApproval, requiredApprovals: 1);
        var cut = Render<Approvals>();
        cut.WaitForAssertion(() => cut.Find(".approve-button").Click());
        cut.WaitForAssertion(() => cut.Find("#approvals-empty"));
        await using var db = Factory.CreateDbContext();
        Assert.Equal(MissionState.Approved, db.Missions.Single(m => m.Id == mission.Id).State);
    }

    [Fact]
    public async Task Rejecting_needs_a_reason()
    {
        var mission = await SeedMissionAsync(state: MissionState.AwaitingApproval, requiredApprovals: 1);
        var cut = Render<Approvals>();
        cut.WaitForAssertion(() => Assert.True(cut.Find(".reject-button").HasAttribute("disabled")));
        InputOf(cut, ".reject-reason").Input("cache is in use");
        cut.WaitForAssertion(() => Assert.False(cut.Find(".reject-button").HasAttribute("disabled")));
        cut.Find(".reject-button").Click();
        cut.WaitForAssertion(() => cut.Find("#approvals-empty"));
        await using var db = Factory.CreateDbContext();
        Assert.Equal(MissionState.Rejected, db.Missions.Single(m => m.Id == mission.Id).State);
    }

    [Fact]
    public async Task The_plain_markup_card_keeps_a_labelled_reason_field_and_rejects_with_the_reason_typed()
    {
        // The card is plain markup now (docs/benchmarks.md): its field must still be labelled for screen readers,
        // its countdown still carries the times the browser ticks from, and the reason typed must reach the decision.
        var mission = await SeedMissionAsync(state: MissionState.AwaitingApproval, requiredApprovals: 1, expiresIn: TimeSpan.FromMinutes(12));
        var cut = Render<Approvals>();
        cut.WaitForAssertion(() => cut.Find(".approval-card"));
        var input = InputOf(cut, ".reject-reason");
        var label = cut.Find($"label[for='{input.Id}']");
        Assert.Equal("Reason to reject (required)", label.TextContent);
        var time = cut.Find(".approval-time");
        Assert.True(long.Parse(time.GetAttribute("data-grace-expires")!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.Equal("progressbar", time.QuerySelector("[role=progressbar]")!.GetAttribute("role"));

        input.Input("the cache holds today's exports");
        cut.WaitForAssertion(() => Assert.False(cut.Find(".reject-button").HasAttribute("disabled")));
        cut.Find(".reject-button").Click();
        cut.WaitForAssertion(() => cut.Find("#approvals-empty"));
        await using var db = Factory.CreateDbContext();
        var decision = db.Approvals.Include(a => a.Decisions).Single(a => a.MissionId == mission.Id).Decisions.Single();
        Assert.Equal(ApprovalVerdict.Reject, decision.Verdict);
        Assert.Equal("the cache holds today's exports", decision.Reason);
    }

    [Fact]
    public async Task Viewers_and_the_requester_get_no_buttons()
    {
        await SeedMissionAsync(state: MissionState.AwaitingApproval, requiredApprovals: 1, requestedBy: "olivia");
        var cut = Render<Approvals>();
        cut.WaitForAssertion(() => Assert.Contains("You requested this mission", cut.Find(".no-approve-reason").TextContent));
        Assert.Empty(cut.FindAll(".approve-button"));

        // One page per circuit, as in the console (each page carries MudBlazor's providers): the first one goes.
        await DisposeComponentsAsync();
        SignIn("victor", GraceRoles.Viewer);
        var viewer = Render<Approvals>();
        viewer.WaitForAssertion(() => Assert.Contains("Viewers cannot approve", viewer.Find(".no-approve-reason").TextContent));
    }

    [Fact]
    public async Task A_new_request_appears_without_reloading()
    {
        var cut = Render<Approvals>();
        cut.WaitForAssertion(() => cut.Find("#approvals-empty"));
        var mission = await SeedMissionAsync(state: MissionState.AwaitingApproval, requiredApprovals: 1);
        Notifier.Publish(new ApprovalRequested(DateTimeOffset.UtcNow, mission.Id, mission.PlaybookKey, mission.Target, 2, 1, DateTimeOffset.UtcNow.AddMinutes(30)));
        cut.WaitForAssertion(() => cut.Find(".approval-card"), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void A_database_failure_is_shown()
    {
        Factory.Broken = true;
        var cut = Render<Approvals>();
        cut.WaitForAssertion(() => Assert.Contains("database unreachable", cut.Find("#approvals-error").TextContent));
    }
}

public sealed class MissionDetailTests : GraceComponentTest
{
    [Fact]
    public async Task The_timeline_shows_each_stage_with_actor_duration_and_evidence_and_the_contract()
    {
        var mission = await SeedMissionAsync(state: MissionState.Succeeded);
        await using (var db = Factory.CreateDbContext())
        {
            var at = DateTimeOffset.UtcNow;
            db.MissionEvents.Add(new MissionEvent { MissionId = mission.Id, Stage = PipelineStage.Gate, Kind = "approved", At = at.AddMilliseconds(10), Actor = "olivia", Message = "Approved by olivia (1 of 1)." });
            db.MissionEvents.Add(new MissionEvent { MissionId = mission.Id, Stage = PipelineStage.Execute, Kind = "executed", At = at.AddMilliseconds(250), Actor = "engine", Message = "Moved 4 entries.", Data = "{\"moved\":4}" });
            db.MissionEvents.Add(new MissionEvent { MissionId = mission.Id, Stage = PipelineStage.Verify, Kind = "contract-met", At = at.AddMilliseconds(400), Actor = "engine", Message = "Contract met." });
            var contract = db.Contracts.Single(c => c.MissionId == mission.Id);
            contract.ObservedValue = 0;
            contract.Verdict = ContractVerdict.Met;
            db.Outcomes.Add(new OutcomeRecord { Id = Guid.NewGuid(), MissionId = mission.Id, PatternKey = "test-cache", PlaybookKey = "test-clear-cache", Target = "test-cache", FinalState = MissionState.Succeeded, Success = true, TimeToRecoverSeconds = 1.5, At = at });
            await db.SaveChangesAsync();
        }

        var cut = Render<MissionDetail>(p => p.Add(c => c.Id, mission.Id));
        cut.WaitForAssertion(() =>
        {
            var items = cut.FindAll(".timeline-item");
            Assert.Equal(4, items.Count);
            Assert.Contains("by olivia", items[1].TextContent);
            Assert.Contains("150 ms", items[2].TextContent);
            Assert.Contains("\"moved\": 4", cut.Find(".timeline-evidence").TextContent);
            Assert.Equal("0 B", cut.Find("#contract-observed").TextContent);
            Assert.Equal("Met", cut.Find("#contract-verdict").TextContent);
            Assert.Contains("recovered in 1.5 s", cut.Find("#mission-outcome").TextContent);
        });
    }

    [Fact]
    public void An_unknown_mission_says_so()
    {
        var cut = Render<MissionDetail>(p => p.Add(c => c.Id, Guid.NewGuid()));
        cut.WaitForAssertion(() => cut.Find("#mission-missing"));
    }

    [Fact]
    public void A_database_failure_is_shown()
    {
        Factory.Broken = true;
        var cut = Render<MissionDetail>(p => p.Add(c => c.Id, Guid.NewGuid()));
        cut.WaitForAssertion(() => Assert.Contains("database unreachable", cut.Find("#mission-error").TextContent));
    }
}

public sealed class LearningPageTests : GraceComponentTest
{
    [Fact]
    public void Empty_statistics_say_when_they_appear()
    {
        var cut = Render<Learning>();
        cut.WaitForAssertion(() => cut.Find("#learning-empty"));
        Assert.Equal("/api/outcomes.csv?days=30", cut.Find("#export-csv").GetAttribute("href"));
    }

    [Fact]
    public async Task Statistics_trend_and_recommendations_show_when_the_page_is_fetched_again()
    {
        var cut = Render<Learning>();
        cut.WaitForAssertion(() => cut.Find("#learning-empty"));
        await using (var db = Factory.CreateDbContext())
        {
            db.PlaybookStatistics.Add(new PlaybookStatistics { PatternKey = "test-cache", PlaybookKey = "test-clear-cache", Runs = 4, Successes = 3, Rollbacks = 1, SuccessRate = 0.75, Confidence = 0.3, MeanTimeToRecoverSeconds = 2.5, Recommended = true });
            db.Outcomes.Add(new OutcomeRecord { Id = Guid.NewGuid(), MissionId = Guid.NewGuid(), PatternKey = "test-cache", PlaybookKey = "test-clear-cache", Target = "t", FinalState = MissionState.Succeeded, Success = true, At = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }

        // The page renders per request; a StatisticsUpdated makes its LiveRefresh ask the browser for it again (LiveRefreshTests).
        await DisposeComponentsAsync();
        var again = Render<Learning>();
        again.WaitForAssertion(() =>
        {
            Assert.Equal("4", again.Find(".stat-runs").TextContent);
            Assert.Equal("1", again.Find(".stat-period-runs").TextContent);
            Assert.Contains("75", again.Find(".stat-success").TextContent);
            Assert.Contains("use test-clear-cache", again.Find(".recommendation").TextContent);
            // The trend plots today's one run: the playbook's success rate (one point) and its runs (one bar), and says a trend needs two days.
            Assert.Equal(["test-clear-cache", "test-clear-cache"], Charts.Legend(again));
            Assert.Equal([1], Charts.PointsPerLine(again));
            Assert.Contains("One day of data so far: the trend needs two", again.Find("#playbook-trend .chart-why").TextContent);
            // What a live refresh replaces: the table and charts, and the recommendations (the trust panel is an island between them).
            Assert.NotNull(again.Find("#learning-live[data-grace-live] #stats-table"));
            Assert.NotNull(again.Find("#learning-recommendations[data-grace-live] .recommendation"));
        }, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task The_period_filter_counts_runs_and_exports_outcomes_of_that_period_only()
    {
        await using (var db = Factory.CreateDbContext())
        {
            db.PlaybookStatistics.Add(new PlaybookStatistics { PatternKey = "test-cache", PlaybookKey = "test-clear-cache", Runs = 2, Successes = 2, SuccessRate = 1, Confidence = 0.34, Recommended = true });
            foreach (var daysAgo in new[] { 1, 10 })
            {
                db.Outcomes.Add(new OutcomeRecord { Id = Guid.NewGuid(), MissionId = Guid.NewGuid(), PatternKey = "test-cache", PlaybookKey = "test-clear-cache", Target = "t", FinalState = MissionState.Succeeded, Success = true, At = DateTimeOffset.UtcNow.AddDays(-daysAgo) });
            }

            await db.SaveChangesAsync();
        }

        var cut = Render<Learning>();
        cut.WaitForAssertion(() => Assert.Equal("2", cut.Find(".stat-period-runs").TextContent));
        // The browser's own select in the page's GET form (grace.js applies it when it changes): ?days=7.
        Assert.Equal("days", cut.Find("form[data-grace-filters] select#period").GetAttribute("name"));
        await DisposeComponentsAsync();
        Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>().NavigateTo("/learning?days=7");
        var week = Render<Learning>();
        week.WaitForAssertion(() =>
        {
            Assert.Equal("1", week.Find(".stat-period-runs").TextContent);
            Assert.Equal("/api/outcomes.csv?days=7", week.Find("#export-csv").GetAttribute("href"));
            Assert.Equal("7", week.Find("select#period option[selected]").GetAttribute("value"));
        });

        // A period not offered shows 30 days, as before.
        await DisposeComponentsAsync();
        Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>().NavigateTo("/learning?days=5000");
        var odd = Render<Learning>();
        odd.WaitForAssertion(() => Assert.Equal("/api/outcomes.csv?days=30", odd.Find("#export-csv").GetAttribute("href")));
    }

    [Fact]
    public void A_database_failure_is_shown()
    {
        Factory.Broken = true;
        var cut = Render<Learning>();
        cut.WaitForAssertion(() => Assert.Contains("database unreachable", cut.Find("#learning-error").TextContent));
    }
}

public sealed class VerificationPageTests : GraceComponentTest
{
    [Fact]
    public void With_nothing_verified_it_says_so()
    {
        var cut = Render<Verification>();
        cut.WaitForAssertion(() => Assert.Contains("0 missions met their contract, 0 failed", cut.Find("#verification-totals").TextContent));
    }

    [Fact]
    public async Task Contracts_per_day_and_a_missions_benchmark_with_its_verdict()
    {
        var mission = await SeedMissionAsync(state: MissionState.RolledBack);
        await using (var db = Factory.CreateDbContext())
        {
            var contract = db.Contracts.Single(c => c.MissionId == mission.Id);
            contract.Verdict = ContractVerdict.Failed;
            contract.VerifiedAt = DateTimeOffset.UtcNow;
            // The verdict of the product's own test on these samples, not numbers written to look like one.
            double[] before = [10, 11, 12, 10, 11, 12, 10, 11, 12, 11], after = [30, 31, 29, 30, 31, 29, 30, 31, 29, 30];
            var verdict = Grace.Engine.Verify.Benchmarks.MannWhitney.Compare(before, after);
            Assert.True(verdict.Regression && verdict.PValue < 0.01, $"p = {verdict.PValue}");
            db.BenchmarkRuns.Add(new BenchmarkRun
            {
                Id = Guid.NewGuid(), MissionId = mission.Id, Benchmark = "http-latency", Target = "test-cache",
                SamplesBefore = System.Text.Json.JsonSerializer.Serialize(before), SamplesAfter = System.Text.Json.JsonSerializer.Serialize(after),
                Statistic = verdict.U, PValue = verdict.PValue, EffectSize = verdict.EffectSize, Regression = verdict.Regression, At = DateTimeOffset.UtcNow,
            });
            await db.SaveChangesAsync();
        }

        var nav = Services.GetRequiredService<NavigationManager>();
        nav.NavigateTo($"/verification?mission={mission.Id}");
        var cut = Render<Verification>();
        cut.WaitForAssertion(() =>
        {
            Assert.Contains("0 missions met their contract, 1 failed", cut.Find("#verification-totals").TextContent);
            Assert.Equal("Regression", cut.Find(".benchmark-verdict").TextContent);
            // The day chart's series, then the benchmark's ten samples before and after, one line each.
            Assert.Equal(["Met", "Failed", "Before (ms)", "After (ms)"], Charts.Legend(cut));
            Assert.Equal([10, 10], Charts.PointsPerLine(cut));
        });
    }

    [Fact]
    public void A_database_failure_is_shown()
    {
        Factory.Broken = true;
        var cut = Render<Verification>();
        cut.WaitForAssertion(() => Assert.Contains("database unreachable", cut.Find("#verification-error").TextContent));
    }
}

public sealed class IncidentsPageTests : GraceComponentTest
{
    [Fact]
    public void Empty_incidents_explain_themselves()
    {
        var cut = Render<Incidents>();
        cut.WaitForAssertion(() => cut.Find("#incidents-empty"));
    }

    [Fact]
    public async Task Incidents_show_their_counts_and_filters_from_the_address()
    {
        var cut = Render<Incidents>();
        cut.WaitForAssertion(() => cut.Find("#incidents-empty"));
        // Moving live is LiveRefreshTests' (the island asks the browser for the page again); this is the page it gets.
        await SeedMissionAsync();
        var again = Render<Incidents>();
        again.WaitForAssertion(() => Assert.Equal("12", again.Find(".incident-count").TextContent));

        var navigation = Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>();
        navigation.NavigateTo("/incidents?state=Resolved&open=true");
        var filtered = Render<Incidents>();
        filtered.WaitForAssertion(() => Assert.Contains("No incident matches these filters.", filtered.Find("#incidents-empty").TextContent, StringComparison.Ordinal));
        Assert.True(filtered.Find("input#open-only").HasAttribute("checked"));
        Assert.Equal("Resolved", filtered.Find("#status-filter option[selected]").GetAttribute("value"));
        navigation.NavigateTo("/incidents?q=Thumbnail&state=mitigating");
        var found = Render<Incidents>();
        found.WaitForAssertion(() => Assert.Single(found.FindAll("tr.incident-row")));
    }

    [Fact]
    public void A_database_failure_is_shown()
    {
        Factory.Broken = true;
        var cut = Render<Incidents>();
        cut.WaitForAssertion(() => Assert.Contains("database unreachable", cut.Find("#incidents-error").TextContent));
    }
}

public sealed class PlaybooksPageTests : GraceComponentTest
{
    [Fact]
    public void The_catalog_shows_tier_contract_policy_and_history_without_controls_for_operators()
    {
        var cut = Render<Playbooks>();
        cut.WaitForAssertion(() =>
        {
            var card = cut.Find(".playbook-card[data-playbook=test-checkpoint]");
            Assert.Contains("Tier 0", card.TextContent);
            Assert.Contains("sqlite.wal-checkpoint on test-db", card.TextContent);
            Assert.Contains("sqlite.wal-bytes is at most 0 B within 15 s", card.TextContent);
            Assert.Contains("never run", card.TextContent);
        });
        Assert.Empty(cut.FindAll(".tier-save"));
    }

    [Fact]
    public async Task Leads_change_a_tier_with_a_reason()
    {
        SignIn("lena", GraceRoles.Lead);
        var cut = Render<Playbooks>();
        const string card = ".playbook-card[data-playbook=test-checkpoint]";
        cut.WaitForAssertion(() => Assert.Contains("Tier 0", cut.Find(card).TextContent));

        // One form for every playbook (not one per card): the card's button picks the playbook into it.
        Assert.Single(cut.FindAll("#tier-form"));
        Assert.Single(cut.FindAll(".tier-select"));
        cut.Find($"{card} .tier-pick").Click();
        cut.WaitForAssertion(() => Assert.Equal("test-checkpoint", cut.Find("select#tier-playbook").GetAttribute("value") ?? cut.Find("select#tier-playbook option[selected]").GetAttribute("value")));
        cut.Find("select#tier-value").Change("2");
        cut.WaitForAssertion(() => Assert.True(cut.Find(".tier-save").HasAttribute("disabled")));
        InputOf(cut, ".tier-reason").Input("checkpoints slowed orders last week");
        cut.WaitForAssertion(() => Assert.False(cut.Find(".tier-save").HasAttribute("disabled")));
        cut.Find(".tier-save").Click();

        cut.WaitForAssertion(() => Assert.Contains("Tier 2", cut.Find(card).TextContent));
        Assert.Equal(2, (await Services.GetRequiredService<PlaybookTiers>().OverridesAsync(default))["test-checkpoint"]);
        await using var db = Factory.CreateDbContext();
        Assert.Contains(db.AuditEntries.ToList(), a => a.Action == "playbook.tier" && a.Actor == "lena" && a.Detail!.Contains("0 → 2", StringComparison.Ordinal));
    }

    private static AngleSharp.Dom.IElement InputOf<T>(IRenderedComponent<T> cut, string selector) where T : IComponent => OverviewTests.InputOf(cut, selector);

    [Fact]
    public void A_database_failure_is_shown()
    {
        Factory.Broken = true;
        var cut = Render<Playbooks>();
        cut.WaitForAssertion(() => Assert.Contains("database unreachable", cut.Find("#playbooks-error").TextContent));
    }
}

public sealed class AuditPageTests : GraceComponentTest
{
    // Where the address comes from (the request, the circuit) is shown end to end in the browser test; this one shows the columns.
    [Fact]
    public async Task Entries_show_who_what_when_why_and_from_where_as_stored()
    {
        SignIn("lena", GraceRoles.Lead);
        var cut = Render<AuditLogPage>();
        cut.WaitForAssertion(() => cut.Find("#audit-empty"));
        await using (var db = Factory.CreateDbContext())
        {
            db.AuditEntries.Add(new AuditEntry { At = DateTimeOffset.UtcNow, Actor = "olivia", Action = "mission.reject", Subject = "mission/1", Detail = "cache in use", RemoteAddress = "10.0.0.7" });
            await db.SaveChangesAsync();
        }

        await DisposeComponentsAsync();
        var again = Render<AuditLogPage>();
        again.WaitForAssertion(() =>
        {
            var row = again.Find("tr.audit-row");
            Assert.Contains("olivia", row.TextContent);
            Assert.Contains("cache in use", row.TextContent);
            Assert.Contains("10.0.0.7", row.TextContent);
        });
    }

    [Fact]
    public void A_database_failure_is_shown()
    {
        Factory.Broken = true;
        var cut = Render<AuditLogPage>();
        cut.WaitForAssertion(() => Assert.Contains("database unreachable", cut.Find("#audit-error").TextContent));
    }
}

public sealed class SharedComponentTests : GraceComponentTest
{
    [Theory]
    [InlineData(0, "mud-chip-color-default")]
    [InlineData(2, "mud-chip-color-warning")]
    [InlineData(3, "mud-chip-color-error")]
    public void The_tier_badge_names_and_colours_the_tier(int tier, string colour)
    {
        var cut = Render<TierBadge>(p => p.Add(c => c.Tier, tier));
        Assert.Contains($"Tier {tier}", cut.Markup);
        Assert.Contains(colour, cut.Markup);
    }

    [Fact]
    public void The_state_chip_shows_the_state()
    {
        var cut = Render<MissionStateChip>(p => p.Add(c => c.State, MissionState.RolledBack));
        Assert.Contains("Rolled back", cut.Markup);
        Assert.Contains("mud-chip-color-error", cut.Markup);
    }

    [Fact]
    public void Operators_see_no_audit_log_or_users_in_the_menu()
    {
        var operatorView = Render<MainLayout>(p => p.Add(c => c.Body, (RenderFragment)(b => b.AddContent(0, "body"))));
        operatorView.WaitForAssertion(() => Assert.Contains("Approvals", operatorView.Markup));
        Assert.DoesNotContain("Audit log", operatorView.Markup);
        Assert.DoesNotContain("Users", operatorView.Markup);
        Assert.Contains("olivia", operatorView.Find("#signed-in-user").TextContent);
    }

    [Fact]
    public void Leads_see_the_audit_log_but_not_the_admin_pages_in_the_menu()
    {
        SignIn("lena", GraceRoles.Lead);
        var leadView = Render<MainLayout>(p => p.Add(c => c.Body, (RenderFragment)(b => b.AddContent(0, "body"))));
        leadView.WaitForAssertion(() => Assert.Contains("Audit log", leadView.Markup));
        Assert.DoesNotContain("Users", leadView.Markup);
        Assert.DoesNotContain("API keys", leadView.Markup);
        Assert.DoesNotContain("Faults", leadView.Markup);
    }

    [Fact]
    public void Admins_see_the_audit_log_and_users_in_the_menu()
    {
        SignIn("ada", GraceRoles.Admin);
        var adminView = Render<MainLayout>(p => p.Add(c => c.Body, (RenderFragment)(b => b.AddContent(0, "body"))));
        adminView.WaitForAssertion(() => Assert.Contains("Audit log", adminView.Markup));
        Assert.Contains("Users", adminView.Markup);
    }
}

/// <summary>What a chart (SvgChart's markup) plots: its legend, and the points of each line.</summary>
internal static class Charts
{
    public static List<string> Legend<T>(IRenderedComponent<T> cut) where T : IComponent =>
        cut.FindAll(".grace-chart-legend-item").Select(e => e.TextContent.Trim()).ToList();

    public static List<int> PointsPerLine<T>(IRenderedComponent<T> cut) where T : IComponent =>
        cut.FindAll("path.grace-chart-line").Select(p => p.GetAttribute("d")!.Split(' ').Count(t => t is "M" or "L")).ToList();
}
