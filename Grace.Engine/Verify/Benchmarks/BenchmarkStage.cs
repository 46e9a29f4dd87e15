using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Missions;
using Grace.Engine.Targets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Verify.Benchmarks;

/// <summary>
/// Runs a target's benchmarks before an action (stored with the intent, so a restart still has
/// them) and after its contract held, and decides regression with the Mann-Whitney U test.
/// </summary>
public sealed class BenchmarkStage(IOptionsMonitor<CatalogOptions> catalog, TargetRegistry targets, LatencySampler sampler, TimeProvider time)
{
    /// <summary>Regression thresholds: significance, and the smallest slowdown worth a rollback.</summary>
    public double Alpha { get; init; } = 0.01;
    public double MinimumEffect { get; init; } = 0.2;
    public double MinimumAbsoluteMs { get; init; } = 1.0;

    private List<BenchmarkOptions> BenchmarksOf(string target) =>
        catalog.CurrentValue.Targets.TryGetValue(target, out var t) ? t.Benchmarks : [];

    public async Task SampleBeforeAsync(GraceDbContext db, MissionJournal.Entry entry, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;
        foreach (var benchmark in BenchmarksOf(mission.Target))
        {
            try
            {
                var samples = await sampler.SampleAsync(targets.Resolve(mission.Target), benchmark, cancellationToken);
                db.BenchmarkRuns.Add(new BenchmarkRun
                {
                    Id = Guid.CreateVersion7(time.GetUtcNow()), MissionId = mission.Id, Benchmark = benchmark.Name, Target = mission.Target,
                    SamplesBefore = JsonSerializer.Serialize(samples), SamplesAfter = "[]", At = time.GetUtcNow(),
                });
                entry.Record(PipelineStage.Verify, "benchmark-before", $"Benchmark '{benchmark.Name}' before the action: median {MannWhitney.Median(samples):0.##} ms over {samples.Length} samples.");
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                entry.Record(PipelineStage.Verify, "benchmark-unavailable", $"Benchmark '{benchmark.Name}' could not run before the action ({ex.Message}); it will not be judged.");
            }
        }
    }

    /// <summary>Samples again and judges every benchmark of the mission. Returns why, when one regressed.</summary>
    public async Task<string?> SampleAfterAsync(GraceDbContext db, MissionJournal.Entry entry, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;
        var runs = await db.BenchmarkRuns.Where(b => b.MissionId == mission.Id && b.SamplesAfter == "[]").ToListAsync(cancellationToken);
        string? regression = null;
        foreach (var run in runs)
        {
            var benchmark = BenchmarksOf(mission.Target).FirstOrDefault(b => b.Name == run.Benchmark);
            if (benchmark is null)
            {
                continue;
            }

            var after = await sampler.SampleAsync(targets.Resolve(mission.Target), benchmark, cancellationToken);
            var before = JsonSerializer.Deserialize<double[]>(run.SamplesBefore)!;
            var verdict = MannWhitney.Compare(before, after, Alpha, MinimumEffect, MinimumAbsoluteMs);
            run.SamplesAfter = JsonSerializer.Serialize(after);
            run.Statistic = verdict.U;
            run.PValue = verdict.PValue;
            run.EffectSize = verdict.EffectSize;
            run.Regression = verdict.Regression;
            run.At = time.GetUtcNow();
            var line = $"Benchmark '{run.Benchmark}': median {verdict.MedianBefore:0.##} → {verdict.MedianAfter:0.##} ms ({verdict.EffectSize:+0%;-0%}), U = {verdict.U:0}, p = {verdict.PValue:0.####}: "
                + (verdict.Regression ? "regression." : "no regression.");
            entry.Record(PipelineStage.Verify, verdict.Regression ? "benchmark-regression" : "benchmark-ok", line,
                data: new { verdict.U, verdict.PValue, verdict.EffectSize, verdict.MedianBefore, verdict.MedianAfter });
            regression ??= verdict.Regression ? line : null;
        }

        return regression;
    }
}
