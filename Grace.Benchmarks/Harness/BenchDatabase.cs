using Grace.Data;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Grace.Benchmarks.Harness;

/// <summary>
/// Grace's database for one run: a fresh PostgreSQL database on the local server (created here,
/// dropped at the end, even when the run fails), or a SQLite file in the run's folder.
/// </summary>
internal sealed class BenchDatabase : IAsyncDisposable
{
    // Databases not dropped yet, so an interrupted run (Ctrl+C) still drops them on its way out.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> Undropped = new(StringComparer.Ordinal);
    private readonly string? _postgresName;

    static BenchDatabase()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DropLeftovers();
        Console.CancelKeyPress += (_, _) => DropLeftovers();
    }

    private BenchDatabase(DatabaseProvider provider, string connectionString, string? postgresName)
    {
        Provider = provider;
        ConnectionString = connectionString;
        _postgresName = postgresName;
    }

    public DatabaseProvider Provider { get; }
    public string ConnectionString { get; }

    /// <summary>GRACE_BENCH_POSTGRES, else the test command's server when run under it, else the machine's own cluster with the role scripts/chaos.sh creates.</summary>
    public static string PostgresAdminConnectionString =>
        Environment.GetEnvironmentVariable("GRACE_BENCH_POSTGRES") is { Length: > 0 } bench ? bench
        : Environment.GetEnvironmentVariable("GRACE_TEST_POSTGRES") is { Length: > 0 } test ? test
        : "Host=127.0.0.1;Port=5432;Username=grace_bench;Password=grace-bench-local;Database=postgres";

    public static async Task<BenchDatabase> CreatePostgresAsync()
    {
        var name = $"grace_bench_{Guid.NewGuid():N}";
        try
        {
            await using var admin = new NpgsqlConnection(PostgresAdminConnectionString);
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
            await create.ExecuteNonQueryAsync();
            Undropped[name] = 0;
        }
        catch (NpgsqlException ex)
        {
            throw new InvalidOperationException(
                $"The local PostgreSQL server is not reachable ({ex.Message}). `bash scripts/test.sh` installs and starts it; GRACE_BENCH_POSTGRES names another.", ex);
        }

        var csb = new NpgsqlConnectionStringBuilder(PostgresAdminConnectionString) { Database = name };
        return new BenchDatabase(DatabaseProvider.Postgres, csb.ConnectionString, name);
    }

    public static BenchDatabase Sqlite(string dataDirectory) =>
        new(DatabaseProvider.Sqlite, new SqliteConnectionStringBuilder { DataSource = Path.Combine(dataDirectory, "grace.db"), DefaultTimeout = 30 }.ToString(), null);

    /// <summary>A context on the run's database, for the harness's own reading.</summary>
    public GraceDbContext Db() => Provider == DatabaseProvider.Postgres
        ? new PostgresGraceDbContext(new DbContextOptionsBuilder<PostgresGraceDbContext>().UseNpgsql(ConnectionString).Options)
        : new SqliteGraceDbContext(new DbContextOptionsBuilder<SqliteGraceDbContext>().UseSqlite(ConnectionString).Options);

    public async ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        if (_postgresName is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(PostgresAdminConnectionString);
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_postgresName}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
            Undropped.TryRemove(_postgresName, out _);
        }
    }

    /// <summary>Drops the databases of this run that are still there (an interrupted or failed run).</summary>
    public static void DropLeftovers()
    {
        foreach (var name in Undropped.Keys)
        {
            try
            {
                NpgsqlConnection.ClearAllPools();
                using var admin = new NpgsqlConnection(PostgresAdminConnectionString);
                admin.Open();
                using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", admin);
                drop.ExecuteNonQuery();
                Undropped.TryRemove(name, out _);
            }
            catch (NpgsqlException ex)
            {
                Console.Error.WriteLine($"Could not drop the benchmark database {name}: {ex.Message}");
            }
        }
    }
}
