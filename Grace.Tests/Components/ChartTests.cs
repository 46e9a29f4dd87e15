using Bunit;
using Grace.Data.Entities;
using Grace.Web.Components.Charts;
using Grace.Web.Components.Shared;
using Grace.Web.Formatting;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Components;

/// <summary>Each chart with nothing, one point and many: it plots what there is and says why when it is empty or thin.</summary>
public sealed class ChartTests : GraceComponentTest
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private async Task AddOutcomesAsync(params (string Playbook, string Pattern, bool Success, double? Ttr, DateTimeOffset At)[] outcomes)
    {
        await using var db = Factory.CreateDbContext();
        foreach (var o in outcomes)
        {
            db.Outcomes.Add(new OutcomeRecord
            {
                Id = Guid.NewGuid(), MissionId = Guid.NewGuid(), PatternKey = o.Pattern, PlaybookKey = o.Playbook, Target = "t",
                FinalState = o.Success ? MissionState.Succeeded : MissionState.RolledBack, Success = o.Success, RolledBack = !o.Success, TimeToRecoverSeconds = o.Ttr, At = o.At,
            });
        }

        await db.SaveChangesAsync();
    }

    private static List<string> XLabels<T>(IRenderedComponent<T> cut) where T : Microsoft.AspNetCore.Components.IComponent =>
        cut.FindAll(".grace-chart-x text").Select(t => t.TextContent).ToList();

    [Fact]
    public void The_playbook_trend_with_no_outcomes_says_why()
    {
        var cut = Render<PlaybookTrendChart>(p => p.Add(c => c.Days, 7));
        cut.WaitForAssertion(() => Assert.Contains("No mission finished in the last 7 days", cut.Find(".chart-why").TextContent));
        Assert.Empty(cut.FindAll(".grace-chart-legend-item"));
    }

    [Fact]
    public async Task The_playbook_trend_with_one_day_plots_its_point_and_says_a_trend_needs_two()
    {
        await AddOutcomesAsync(("clear-cache", "cache", true, 5, Now));
        var cut = Render<PlaybookTrendChart>();
        cut.WaitForAssertion(() => Assert.Contains("One day of data so far: the trend needs two", cut.Find(".chart-why").TextContent));
        Assert.Equal(["clear-cache", "clear-cache"], Charts.Legend(cut));
        Assert.Equal([1], Charts.PointsPerLine(cut));
    }

    [Fact]
    public async Task The_playbook_trend_plots_each_playbooks_rate_and_runs_day_by_day()
    {
        await AddOutcomesAsync(
            ("clear-cache", "cache", true, 5, Now.AddDays(-2)), ("restart", "cache", false, null, Now.AddDays(-2)),
            ("clear-cache", "cache", true, 5, Now.AddDays(-1)), ("restart", "cache", true, 8, Now.AddDays(-1)),
            ("clear-cache", "cache", false, null, Now), ("restart", "cache", true, 8, Now));
        var cut = Render<PlaybookTrendChart>();
        cut.WaitForAssertion(() => Assert.Equal(["clear-cache", "restart", "clear-cache", "restart"], Charts.Legend(cut)));
        Assert.Empty(cut.FindAll(".chart-why"));
        Assert.Equal([3, 3], Charts.PointsPerLine(cut));
        var days = Enumerable.Range(0, 3).Select(d => Now.AddDays(d - 2).UtcDateTime.ToString("MMM d", System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(days, XLabels(cut).Take(3).ToList());
    }

    [Fact]
    public async Task A_day_a_playbook_did_not_run_is_a_gap_in_its_line_not_a_zero()
    {
        await AddOutcomesAsync(
            ("clear-cache", "cache", true, 5, Now.AddDays(-2)), ("restart", "cache", true, 8, Now.AddDays(-2)),
            ("clear-cache", "cache", true, 5, Now.AddDays(-1)),
            ("clear-cache", "cache", true, 5, Now), ("restart", "cache", false, null, Now));
        var cut = Render<PlaybookTrendChart>();
        cut.WaitForAssertion(() => Assert.Equal(["clear-cache", "restart", "clear-cache", "restart"], Charts.Legend(cut)));
        // clear-cache: three points; restart: two, for the missing day adds none (a zero would make it three).
        var points = Charts.PointsPerLine(cut);
        Assert.Equal(3, points[0]);
        Assert.Equal(2, points.Skip(1).Sum());
    }

    [Fact]
    public void Time_to_recover_with_no_recovery_says_why()
    {
        var cut = Render<RecoveryTimeChart>();
        cut.WaitForAssertion(() => Assert.Contains("No incident recovered in the last 30 days", cut.Find(".chart-why").TextContent));
    }

    [Fact]
    public async Task Time_to_recover_with_one_recovery_says_median_and_p90_are_that_one()
    {
        await AddOutcomesAsync(("clear-cache", "cache", true, 125, Now));
        var cut = Render<RecoveryTimeChart>();
        cut.WaitForAssertion(() => Assert.Contains("with one, median and p90 are that one recovery", cut.Find(".chart-why").TextContent));
        Assert.Equal(["Median", "p90"], Charts.Legend(cut));
        Assert.Equal("2 min 5 s", cut.Find(".recovery-median").TextContent);
        Assert.Equal("2 min 5 s", cut.Find(".recovery-p90").TextContent);
    }

    [Fact]
    public async Task Time_to_recover_shows_median_and_p90_per_pattern()
    {
        await AddOutcomesAsync([.. Enumerable.Range(1, 10).Select(i => ("clear-cache", "cache", true, (double?)i, Now)), ("restart", "orders", true, 60, Now), ("restart", "orders", true, 120, Now)]);
        var cut = Render<RecoveryTimeChart>();
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".recovery-row").Count));
        Assert.Equal(["5.5 s", "1 min 30 s"], cut.FindAll(".recovery-median").Select(e => e.TextContent).ToList());
        Assert.Equal(["9 s", "2 min"], cut.FindAll(".recovery-p90").Select(e => e.TextContent).ToList());
        // Only the pattern with two recoveries is thin.
        Assert.Contains("orders (2)", cut.Find(".chart-why").TextContent);
        Assert.DoesNotContain("cache (", cut.Find(".chart-why").TextContent);
        Assert.Contains("cache", XLabels(cut));
        Assert.Contains("orders", XLabels(cut));
    }

    private async Task<Mission> EndedAsync(MissionState state, DateTimeOffset at, ContractVerdict verdict = ContractVerdict.Pending)
    {
        var mission = await SeedMissionAsync(state: state);
        await using var db = Factory.CreateDbContext();
        var row = db.Missions.Single(m => m.Id == mission.Id);
        row.CompletedAt = at;
        row.UpdatedAt = at;
        db.Contracts.Single(c => c.MissionId == mission.Id).Verdict = verdict;
        await db.SaveChangesAsync();
        return mission;
    }

    [Fact]
    public void Verification_with_nothing_ended_says_why()
    {
        var cut = Render<VerificationChart>();
        cut.WaitForAssertion(() => Assert.Contains("No mission's action ran to a verdict", cut.Find(".chart-why").TextContent));
        Assert.Contains("0 missions met their contract, 0 failed", cut.Find("#verification-totals").TextContent);
    }

    [Fact]
    public async Task A_failed_mission_counts_as_failed_though_its_contract_was_never_read()
    {
        // Six met contracts and one mission whose action threw: its contract stayed pending. Counting verdicts said "6 met, 0 failed".
        for (var i = 0; i < 6; i++)
        {
            await EndedAsync(MissionState.Succeeded, Now, ContractVerdict.Met);
        }

        await EndedAsync(MissionState.Failed, Now);
        await EndedAsync(MissionState.Blocked, Now);
        var summary = await Services.GetRequiredService<ChartQueries>().VerificationAsync(DateTimeOffset.UtcNow, 30, TimeZoneInfo.Utc, CancellationToken.None);
        Assert.Equal((6, 1, 1, 1), (summary.Met, summary.Failed, summary.NotActed, summary.FailedBeforeContract));

        var cut = Render<VerificationChart>();
        cut.WaitForAssertion(() => Assert.Contains("6 missions met their contract, 1 failed", cut.Find("#verification-totals").TextContent));
        Assert.Contains("1 failed before the contract was read", cut.Find("#verification-meaning").TextContent);
        Assert.Contains("Not counted: 1 mission that ended without acting", cut.Find("#verification-meaning").TextContent);
        Assert.Contains("One day with results so far", cut.Find(".chart-why").TextContent);
        Assert.Equal(["Met", "Failed"], Charts.Legend(cut));
    }

    [Fact]
    public async Task Verification_plots_met_in_green_and_failed_in_red_day_by_day()
    {
        await EndedAsync(MissionState.Succeeded, Now.AddDays(-2), ContractVerdict.Met);
        await EndedAsync(MissionState.RolledBack, Now.AddDays(-1), ContractVerdict.Failed);
        await EndedAsync(MissionState.Succeeded, Now, ContractVerdict.Met);
        var cut = Render<VerificationChart>();
        cut.WaitForAssertion(() => Assert.Contains("2 missions met their contract, 1 failed", cut.Find("#verification-totals").TextContent));
        Assert.Empty(cut.FindAll(".chart-why"));
        Assert.Equal(3, XLabels(cut).Count(l => l.Length > 0 && char.IsLetter(l[0])));
        // Met bars in the theme's success green, failed ones in its error red (the palette's variables, so the dark theme applies too).
        var bars = cut.FindAll(".chart-verification g.grace-chart-bars");
        Assert.Equal(2, bars.Count);
        Assert.Contains("var(--mud-palette-success)", bars[0].GetAttribute("style"));
        Assert.Equal(2, bars[0].QuerySelectorAll("rect").Length);
        Assert.Contains("var(--mud-palette-error)", bars[1].GetAttribute("style"));
        Assert.Single(bars[1].QuerySelectorAll("rect"));
    }

    private async Task<Guid> BenchmarkAsync(double[] before, double[] after, bool regression)
    {
        var mission = await SeedMissionAsync(state: MissionState.Succeeded);
        await using var db = Factory.CreateDbContext();
        db.BenchmarkRuns.Add(new BenchmarkRun
        {
            Id = Guid.NewGuid(), MissionId = mission.Id, Benchmark = "http-latency", Target = "test-cache",
            SamplesBefore = System.Text.Json.JsonSerializer.Serialize(before), SamplesAfter = System.Text.Json.JsonSerializer.Serialize(after),
            Statistic = 0, PValue = 1, EffectSize = -1, Regression = regression, At = DateTimeOffset.UtcNow,
        });
        await db.SaveChangesAsync();
        return mission.Id;
    }

    [Fact]
    public async Task A_mission_without_benchmarks_says_why()
    {
        var mission = await SeedMissionAsync();
        var cut = Render<BenchmarkChart>(p => p.Add(c => c.MissionId, mission.Id));
        cut.WaitForAssertion(() => Assert.Contains("No benchmark ran for this mission", cut.Find("#no-benchmarks").TextContent));
        Assert.NotNull(cut.Find("section#benchmarks"));
    }

    [Fact]
    public async Task A_benchmark_of_one_sample_each_plots_two_points_and_says_it_is_too_few()
    {
        var id = await BenchmarkAsync([12], [13], regression: false);
        var cut = Render<BenchmarkChart>(p => p.Add(c => c.MissionId, id));
        cut.WaitForAssertion(() => Assert.Contains("One sample each", cut.Find(".chart-why").TextContent));
        Assert.Equal(["Before (ms)", "After (ms)"], Charts.Legend(cut));
        Assert.Equal([1, 1], Charts.PointsPerLine(cut));
    }

    [Fact]
    public async Task A_benchmark_is_explained_in_words_with_the_numbers_behind_a_toggle()
    {
        var id = await BenchmarkAsync([.. Enumerable.Repeat(10.0, 20)], [.. Enumerable.Repeat(10.0, 20)], regression: false);
        var cut = Render<BenchmarkChart>(p => p.Add(c => c.MissionId, id));
        cut.WaitForAssertion(() => Assert.StartsWith("No slowdown detected: 20 samples before and after", cut.Find(".benchmark-summary").TextContent));
        Assert.Equal("No regression", cut.Find(".benchmark-verdict").TextContent);
        Assert.Equal([20, 20], Charts.PointsPerLine(cut));
        // U, p and the effect size are inside a collapsed panel, not in the sentence.
        Assert.DoesNotContain("U =", cut.Find(".benchmark-summary").TextContent);
        Assert.NotNull(cut.Find(".benchmark-statistics"));
    }

    [Fact]
    public void Times_show_in_the_viewers_zone_with_utc_in_the_tooltip_and_say_utc_until_the_zone_is_known()
    {
        var at = new DateTimeOffset(2026, 7, 1, 12, 0, 0, TimeSpan.Zero);
        var cut = Render<When>(p => p.Add(c => c.At, at).Add(c => c.Format, WhenStyle.Full));
        Assert.Equal("2026-07-01 12:00:00 UTC", cut.Find(".when").TextContent);
        Assert.Contains("time zone is not known", cut.Find(".when").GetAttribute("title"));

        Assert.True(Services.GetRequiredService<ViewerClock>().Adopt("Europe/Berlin"));
        cut.WaitForAssertion(() => Assert.Equal("2026-07-01 14:00:00", cut.Find(".when").TextContent));
        Assert.Equal("2026-07-01 12:00:00 UTC · shown in Europe/Berlin", cut.Find(".when").GetAttribute("title"));
        Assert.False(Services.GetRequiredService<ViewerClock>().Adopt("Mars/Olympus_Mons"));
    }

    [Fact]
    public void The_browser_is_asked_for_its_time_zone_once()
    {
        var format = JSInterop.SetupModule(invocation => invocation.Identifier == "Intl.DateTimeFormat");
        format.Setup<ViewerClock.ResolvedOptions?>("resolvedOptions").SetResult(new ViewerClock.ResolvedOptions("Asia/Tokyo"));
        var at = new DateTimeOffset(2026, 7, 1, 12, 0, 0, TimeSpan.Zero);
        var first = Render<When>(p => p.Add(c => c.At, at).Add(c => c.Format, WhenStyle.Full));
        var second = Render<When>(p => p.Add(c => c.At, at).Add(c => c.Format, WhenStyle.Full));
        first.WaitForAssertion(() => Assert.Equal("2026-07-01 21:00:00", first.Find(".when").TextContent));
        Assert.Equal("2026-07-01 21:00:00", second.Find(".when").TextContent);
        Assert.Single(JSInterop.Invocations, i => i.Identifier == "Intl.DateTimeFormat");
    }
}
