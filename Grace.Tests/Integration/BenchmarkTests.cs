using System.Net;
using System.Net.Http.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Adapters.Logging;
using Grace.Engine.Targets;
using Grace.Engine.Verify.Benchmarks;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Serilog.Events;

namespace Grace.Tests.Integration;

/// <summary>Latency benchmarks on a real HTTP endpoint on loopback, and the regression verdict.</summary>
public sealed class BenchmarkTests : IAsyncLifetime
{
    private WebApplication _server = null!;
    private string _url = "";
    private volatile int _delayMs;
    private Func<bool>? _slowWhen;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _server = builder.Build();
        _server.MapGet("/stock", async () =>
        {
            var delay = _slowWhen?.Invoke() == true ? 25 : _delayMs;
            if (delay > 0)
            {
                await Task.Delay(delay);
            }

            return Results.Ok(new { items = 3 });
        });
        await _server.StartAsync();
        _url = _server.Urls.First();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private ResolvedTarget Target => TestTargets.Http("stock-api", _url);

    private static readonly BenchmarkOptions Stock = new() { Name = "stock", Kind = "Http", Path = "/stock", Samples = 30 };

    [Fact]
    public async Task An_injected_slowdown_is_a_regression()
    {
        var sampler = TestSamplers.All();
        var before = await sampler.SampleAsync(Target, Stock, default);
        _delayMs = 20;
        var after = await sampler.SampleAsync(Target, Stock, default);

        var verdict = MannWhitney.Compare(before, after);
        Assert.True(verdict.Regression, $"median {verdict.MedianBefore:0.##} → {verdict.MedianAfter:0.##} ms, p = {verdict.PValue}");
        Assert.True(verdict.PValue < 0.001);
        Assert.True(verdict.MedianAfter >= 20);
    }

    [Fact]
    public async Task Noise_is_not_a_regression()
    {
        var sampler = TestSamplers.All();
        var before = await sampler.SampleAsync(Target, Stock, default);
        var after = await sampler.SampleAsync(Target, Stock, default);
        var verdict = MannWhitney.Compare(before, after);
        Assert.False(verdict.Regression, $"median {verdict.MedianBefore:0.##} → {verdict.MedianAfter:0.##} ms, p = {verdict.PValue}");
    }

    [Fact]
    public void The_test_agrees_with_hand_computed_ranks()
    {
        // before 1..10, after 11..20: every after value outranks every before value, U = 100.
        var verdict = MannWhitney.Compare([.. Enumerable.Range(1, 10).Select(i => (double)i)], [.. Enumerable.Range(11, 10).Select(i => (double)i)], minimumAbsolute: 0);
        Assert.Equal(100, verdict.U);
        Assert.True(verdict.PValue < 0.001);
        Assert.True(verdict.Regression);
        var same = MannWhitney.Compare([5, 5, 5, 5, 5, 5], [5, 5, 5, 5, 5, 5]);
        Assert.Equal(18, same.U);
        Assert.False(same.Regression);
        Assert.Throws<ArgumentException>(() => MannWhitney.Compare([1, 2], [3, 4]));
    }

    [Fact]
    public void A_regression_needs_p_below_001_and_at_least_20_percent_and_1_ms_slower()
    {
        double[] before = [.. Enumerable.Range(0, 20).Select(i => 10.0 + (i % 5) * 0.01)];
        // Certainly slower (p tiny), but only 10 %: not a regression.
        var tenPercent = MannWhitney.Compare(before, [.. before.Select(v => v * 1.1)]);
        Assert.True(tenPercent.PValue < 0.001);
        Assert.False(tenPercent.Regression);
        // 30 % slower but 0.3 ms on a 1 ms call: not a regression either.
        double[] fast = [.. before.Select(v => v / 10)];
        var smallAbsolute = MannWhitney.Compare(fast, [.. fast.Select(v => v * 1.3)]);
        Assert.True(smallAbsolute.PValue < 0.001 && smallAbsolute.EffectSize > 0.2);
        Assert.False(smallAbsolute.Regression);
        // 30 % and 3 ms slower, p tiny: a regression.
        Assert.True(MannWhitney.Compare(before, [.. before.Select(v => v * 1.3)]).Regression);
        // 32 % and 4 ms slower in the median, but six samples that overlap: p = 0.02 is not below 0.01, not a regression.
        var overlapping = MannWhitney.Compare([10, 11, 12, 13, 14, 15], [12, 14, 16, 17, 18, 40]);
        Assert.True(overlapping.EffectSize > 0.3 && overlapping.MedianAfter - overlapping.MedianBefore >= 4);
        Assert.InRange(overlapping.PValue, 0.01, 0.05);
        Assert.False(overlapping.Regression);
    }

    [Fact]
    public async Task An_action_that_slows_its_target_is_rolled_back()
    {
        using var folder = new TempFolder();
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, folder);
        var settings = TestCatalog.Settings(folder).Concat(database.Settings()).ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (key, value) in new Dictionary<string, string?>
        {
            ["Grace:Targets:grace:Url"] = _url,
            ["Grace:Targets:grace:Benchmarks:0:Name"] = "stock",
            ["Grace:Targets:grace:Benchmarks:0:Kind"] = "Http",
            ["Grace:Targets:grace:Benchmarks:0:Path"] = "/stock",
            ["Grace:Targets:grace:Benchmarks:0:Samples"] = "30",
            // The contract is met at once (Debug = 1); only the benchmark can fail this mission.
            ["Grace:Playbooks:test-debug-logging:Contract:Threshold"] = "1",
            ["Grace:Playbooks:test-debug-logging:Contract:DeadlineSeconds"] = "10",
        })
        {
            settings[key] = value;
        }

        await using var host = new GraceHost(settings).Start();
        var levels = host.Get<LogLevelController>();
        var before = levels.GetLevel("Grace.Web");
        // Debug logging on Grace.Web makes the stock endpoint slow: the action causes a real regression.
        _slowWhen = () => levels.GetLevel("Grace.Web") == LogEventLevel.Debug;

        using var client = host.IngestClient();
        (await client.PostAsJsonAsync("/api/signals", new { source = "checkout", message = TestCatalog.LoggingMessage })).EnsureSuccessStatusCode();
        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-debug-logging" && m.CompletedAt != null, "finished", 60);

        Assert.Equal(MissionState.RolledBack, mission.State);
        Assert.Equal(ContractVerdict.Met, mission.Contract!.Verdict);
        Assert.Contains(mission.Events, e => e.Kind == "benchmark-regression");
        Assert.Equal(before, levels.GetLevel("Grace.Web"));
        await using var db = host.CreateDb();
        var run = await db.BenchmarkRuns.SingleAsync(b => b.MissionId == mission.Id);
        Assert.True(run.Regression);
        Assert.True(run.EffectSize > 1);
    }
}
