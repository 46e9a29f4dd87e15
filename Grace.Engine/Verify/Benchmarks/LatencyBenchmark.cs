using System.Data.Common;
using System.Diagnostics;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Microsoft.Data.Sqlite;

namespace Grace.Engine.Verify.Benchmarks;

/// <summary>What a benchmark times.</summary>
public enum BenchmarkKind
{
    /// <summary>GET <c>Path</c> on the target's Url.</summary>
    Http,
    /// <summary><c>Query</c> on the target's SQLite file, read-only.</summary>
    Sqlite,
    /// <summary><c>Query</c> on the target's PostgreSQL database.</summary>
    Postgres,
    /// <summary><c>Query</c> on the target's SQL Server database.</summary>
    SqlServer,
}

/// <summary>A benchmark a target declares (<c>Grace:Targets:&lt;key&gt;:Benchmarks</c>).</summary>
public sealed class BenchmarkOptions
{
    /// <summary>Name on the verification page.</summary>
    public string Name { get; set; } = "";
    public BenchmarkKind Kind { get; set; } = BenchmarkKind.Http;
    public string? Path { get; set; }
    /// <summary>
    /// The query a database benchmark times (default <c>SELECT 1</c>): one the application runs often.
    /// It runs in a transaction that is rolled back (and read-only on PostgreSQL; SQLite opens the file read-only).
    /// </summary>
    public string? Query { get; set; }
    /// <summary>Samples before and after the action.</summary>
    public int Samples { get; set; } = 20;
}

/// <summary>Samples the latency of one benchmark, in milliseconds, for real.</summary>
public sealed class LatencySampler(IHttpClientFactory? httpFactory = null)
{
    /// <summary>Configuration faults of a benchmark on a target, as "Setting message" lines.</summary>
    public static IEnumerable<string> Validate(BenchmarkOptions benchmark, TargetOptions target)
    {
        if (string.IsNullOrWhiteSpace(benchmark.Name))
        {
            yield return "Name is required (it names the benchmark on the Verification page).";
        }

        if (benchmark.Samples is < 5 or > 1000)
        {
            yield return $"Samples must be between 5 and 1000 (it is {benchmark.Samples}); fewer cannot show a regression.";
        }

        var needs = benchmark.Kind switch
        {
            BenchmarkKind.Sqlite => TargetKind.Sqlite,
            BenchmarkKind.Postgres => TargetKind.Postgres,
            BenchmarkKind.SqlServer => TargetKind.SqlServer,
            _ => (TargetKind?)null,
        };
        if (needs is { } kind && kind != target.Kind)
        {
            yield return $"Kind: a {benchmark.Kind} benchmark runs on a {kind} target, and this one is {target.Kind}.";
        }

        if (benchmark.Kind == BenchmarkKind.Http && !Uri.TryCreate(target.Url, UriKind.Absolute, out _))
        {
            yield return "Kind: an Http benchmark (the default Kind) times GET requests to the target's Url, and the target has no absolute Url; set Kind for a database benchmark.";
        }

        if (benchmark.Kind == BenchmarkKind.Http && benchmark.Path is { } path && !path.StartsWith('/'))
        {
            yield return $"Path '{path}' must start with '/' (a path on the target's Url).";
        }
    }

    public async Task<double[]> SampleAsync(ResolvedTarget target, BenchmarkOptions benchmark, CancellationToken cancellationToken)
    {
        var samples = new double[Math.Clamp(benchmark.Samples, 5, 1000)];
        switch (benchmark.Kind)
        {
            case BenchmarkKind.Sqlite:
                var path = target.Path ?? throw new InvalidOperationException($"Target '{target.Key}' has no Path for a SQLite benchmark.");
                await using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString()))
                {
                    await TimeQueriesAsync(connection, benchmark, samples, cancellationToken);
                }

                break;
            case BenchmarkKind.Postgres:
                // Its own connection, outside the pool: the samples time the query, not a pool's warm-up or contention.
                // Read-only sessions: a benchmark measures, it never writes, whatever its Query says.
                var postgres = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionStringOf(target))
                {
                    Pooling = false, ApplicationName = "grace-benchmark", Options = "-c default_transaction_read_only=on",
                };
                await using (var connection = new Npgsql.NpgsqlConnection(postgres.ConnectionString))
                {
                    await TimeQueriesAsync(connection, benchmark, samples, cancellationToken);
                }

                break;
            case BenchmarkKind.SqlServer:
                var sqlServer = new Microsoft.Data.SqlClient.SqlConnectionStringBuilder(ConnectionStringOf(target)) { Pooling = false, ApplicationName = "grace-benchmark" };
                await using (var connection = new Microsoft.Data.SqlClient.SqlConnection(sqlServer.ConnectionString))
                {
                    await TimeQueriesAsync(connection, benchmark, samples, cancellationToken);
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

    private static string ConnectionStringOf(ResolvedTarget target) =>
        target.ConnectionString ?? throw new InvalidOperationException($"Target '{target.Key}' has no ConnectionString for a database benchmark.");

    /// <summary>Opens the connection once, then times the query (read to the end) once per sample.</summary>
    private static async Task TimeQueriesAsync(DbConnection connection, BenchmarkOptions benchmark, double[] samples, CancellationToken cancellationToken)
    {
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
