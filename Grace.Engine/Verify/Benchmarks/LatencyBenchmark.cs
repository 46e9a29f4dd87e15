using System.Data.Common;
using System.Diagnostics;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;

namespace Grace.Engine.Verify.Benchmarks;

/// <summary>A benchmark a target declares (<c>Grace:Targets:&lt;key&gt;:Benchmarks</c>).</summary>
public sealed class BenchmarkOptions
{
    /// <summary>Name on the verification page.</summary>
    public string Name { get; set; } = "";

    /// <summary>What it times, as an adapter module names it: <c>Http</c> (the default), <c>Sqlite</c>, <c>Postgres</c>, <c>SqlServer</c>...</summary>
    public string Kind { get; set; } = "Http";

    public string? Path { get; set; }

    /// <summary>
    /// The query a database benchmark times (default <c>SELECT 1</c>): one the application runs often.
    /// It runs in a transaction that is rolled back (and read-only on PostgreSQL; SQLite opens the file read-only).
    /// </summary>
    public string? Query { get; set; }

    /// <summary>Samples before and after the action.</summary>
    public int Samples { get; set; } = 20;
}

/// <summary>One kind of benchmark, as an adapter module provides it: what it needs of its target, and how it times one sample.</summary>
public interface IBenchmarkSampler
{
    /// <summary>The name configuration gives in <c>Kind</c>.</summary>
    string Kind { get; }

    /// <summary>Configuration faults of this benchmark on a target, as "Setting message" lines.</summary>
    IEnumerable<string> Validate(BenchmarkOptions benchmark, ResolvedTarget target);

    /// <summary>Fills <paramref name="samples"/> with latencies in milliseconds, for real.</summary>
    Task SampleAsync(ResolvedTarget target, BenchmarkOptions benchmark, double[] samples, CancellationToken cancellationToken);
}

/// <summary>A query benchmark on a database target: one connection, one transaction rolled back, the query timed once per sample.</summary>
public abstract class DatabaseBenchmark : IBenchmarkSampler
{
    public abstract string Kind { get; }

    /// <summary>The kind of target whose database it queries.</summary>
    public abstract TargetKind TargetKind { get; }

    public IEnumerable<string> Validate(BenchmarkOptions benchmark, ResolvedTarget target)
    {
        if (target.Kind != TargetKind)
        {
            yield return $"Kind: a {Kind} benchmark runs on a {TargetKind} target, and this one is {target.Kind}.";
        }
    }

    /// <summary>A connection of its own, outside any pool, read-only where the database allows it.</summary>
    protected abstract DbConnection Open(ResolvedTarget target);

    public async Task SampleAsync(ResolvedTarget target, BenchmarkOptions benchmark, double[] samples, CancellationToken cancellationToken)
    {
        await using var connection = Open(target);
        await connection.OpenAsync(cancellationToken);
        // Everything runs in one transaction that is rolled back: whatever the query did is undone.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        for (var i = 0; i < samples.Length; i++)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = benchmark.Query ?? "SELECT 1";
            var watch = Stopwatch.StartNew();
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                }
            }

            samples[i] = watch.Elapsed.TotalMilliseconds;
        }

        await transaction.RollbackAsync(cancellationToken);
    }
}

/// <summary>Samples the latency of one benchmark, in milliseconds, with the sampler its kind names.</summary>
public sealed class LatencySampler(IEnumerable<IBenchmarkSampler> samplers)
{
    private readonly Dictionary<string, IBenchmarkSampler> _samplers = samplers.ToDictionary(s => s.Kind, StringComparer.OrdinalIgnoreCase);

    /// <summary>Configuration faults of a benchmark on a target, as "Setting message" lines.</summary>
    public IEnumerable<string> Validate(BenchmarkOptions benchmark, ResolvedTarget target)
    {
        if (string.IsNullOrWhiteSpace(benchmark.Name))
        {
            yield return "Name is required (it names the benchmark on the Verification page).";
        }

        if (benchmark.Samples is < 5 or > 1000)
        {
            yield return $"Samples must be between 5 and 1000 (it is {benchmark.Samples}); fewer cannot show a regression.";
        }

        if (!_samplers.TryGetValue(benchmark.Kind, out var sampler))
        {
            yield return $"Kind '{benchmark.Kind}' is not a benchmark kind; use one of {string.Join(", ", _samplers.Keys.Order())}.";
            yield break;
        }

        foreach (var fault in sampler.Validate(benchmark, target))
        {
            yield return fault;
        }
    }

    public async Task<double[]> SampleAsync(ResolvedTarget target, BenchmarkOptions benchmark, CancellationToken cancellationToken)
    {
        var samples = new double[Math.Clamp(benchmark.Samples, 5, 1000)];
        var sampler = _samplers.TryGetValue(benchmark.Kind, out var s) ? s : throw new InvalidOperationException($"No benchmark kind '{benchmark.Kind}'.");
        await sampler.SampleAsync(target, benchmark, samples, cancellationToken);
        return samples;
    }
}
