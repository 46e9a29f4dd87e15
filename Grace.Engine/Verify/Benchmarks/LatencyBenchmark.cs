using System.Diagnostics;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Microsoft.Data.Sqlite;

namespace Grace.Engine.Verify.Benchmarks;

/// <summary>A benchmark a target declares (<c>Grace:Targets:&lt;key&gt;:Benchmarks</c>).</summary>
public sealed class BenchmarkOptions
{
    /// <summary>Name on the verification page.</summary>
    public string Name { get; set; } = "";
    /// <summary>Http: GET <c>Path</c> on the target's Url. Sqlite: run <c>Query</c> on the target's file.</summary>
    public string Kind { get; set; } = "Http";
    public string? Path { get; set; }
    public string? Query { get; set; }
    /// <summary>Samples before and after the action.</summary>
    public int Samples { get; set; } = 20;
}

/// <summary>Samples the latency of one benchmark, in milliseconds, for real.</summary>
public sealed class LatencySampler(IHttpClientFactory? httpFactory = null)
{
    public async Task<double[]> SampleAsync(ResolvedTarget target, BenchmarkOptions benchmark, CancellationToken cancellationToken)
    {
        var samples = new double[Math.Clamp(benchmark.Samples, 5, 1000)];
        switch (benchmark.Kind)
        {
            case "Sqlite":
                var path = target.Path ?? throw new InvalidOperationException($"Target '{target.Key}' has no Path for a SQLite benchmark.");
                await using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString()))
                {
                    await connection.OpenAsync(cancellationToken);
                    for (var i = 0; i < samples.Length; i++)
                    {
                        await using var command = connection.CreateCommand();
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
                }

                break;
            default:
                var baseUrl = target.Url ?? throw new InvalidOperationException($"Target '{target.Key}' has no Url for an HTTP benchmark.");
                using (var client = httpFactory?.CreateClient("grace-benchmark") ?? new HttpClient())
                {
                    var url = new Uri(new Uri(baseUrl), benchmark.Path ?? "/");
                    for (var i = 0; i < samples.Length; i++)
                    {
                        var watch = Stopwatch.StartNew();
                        using var response = await client.GetAsync(url, cancellationToken);
                        await response.Content.ReadAsByteArrayAsync(cancellationToken);
                        samples[i] = watch.Elapsed.TotalMilliseconds;
                    }
                }

                break;
        }

        return samples;
    }
}
