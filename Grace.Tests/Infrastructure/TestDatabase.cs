using Grace.Data;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Grace.Tests.Infrastructure;

/// <summary>A real database for one test: a SQLite file in a temporary folder, or a fresh database on the local PostgreSQL server.</summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly string? _postgresAdmin;
    private readonly string? _postgresName;

    private TestDatabase(DatabaseProvider provider, string? connectionString, string? postgresAdmin, string? postgresName)
    {
        Provider = provider;
        ConnectionString = connectionString;
        _postgresAdmin = postgresAdmin;
        _postgresName = postgresName;
    }

    public DatabaseProvider Provider { get; }
    public string? ConnectionString { get; }

    /// <summary>The PostgreSQL server the test command started (see scripts/test.sh).</summary>
    public static string PostgresAdminConnectionString =>
        Environment.GetEnvironmentVariable("GRACE_TEST_POSTGRES") is { Length: > 0 } cs
            ? cs
            : "Host=127.0.0.1;Port=5432;Username=grace_test;Password=grace_test;Database=postgres";

    public static Task<TestDatabase> CreateAsync(DatabaseProvider provider, TempFolder folder) => provider switch
    {
        DatabaseProvider.Postgres => CreatePostgresAsync(),
        _ => Task.FromResult(new TestDatabase(DatabaseProvider.Sqlite, $"Data Source={Path.Combine(folder.Path, "grace.db")}", null, null)),
    };

    private static async Task<TestDatabase> CreatePostgresAsync()
    {
        var name = $"grace_test_{Guid.NewGuid():N}";
        try
        {
            await using var admin = new NpgsqlConnection(PostgresAdminConnectionString);
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
            await create.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException ex)
        {
            throw new InvalidOperationException(
                $"The PostgreSQL server for the tests is not reachable ({ex.Message}). Run the tests with `bash scripts/test.sh`, which installs and starts it.", ex);
        }

        var csb = new NpgsqlConnectionStringBuilder(PostgresAdminConnectionString) { Database = name };
        return new TestDatabase(DatabaseProvider.Postgres, csb.ConnectionString, PostgresAdminConnectionString, name);
    }

    /// <summary>
    /// The host's database settings. On a server database Grace is a cluster: each host needs its own
    /// <paramref name="instance"/> name, and machine-bound targets live on <paramref name="targetsOn"/> (default: this instance).
    /// </summary>
    public IEnumerable<KeyValuePair<string, string?>> Settings(string instance = ClusterInstance, string? targetsOn = null)
    {
        yield return new("Grace:Database:Provider", Provider.ToString());
        yield return new("Grace:Database:ConnectionString", ConnectionString);
        if (Provider != DatabaseProvider.Sqlite)
        {
            // A server database makes Grace a cluster (of one, here): its machine-bound targets live on this instance.
            yield return new("Grace:Cluster:InstanceName", instance);
            yield return new("Grace:Cluster:DefaultTargetInstance", targetsOn ?? instance);
            yield return new("Grace:Cluster:SiloPort", "0");
            yield return new("Grace:Cluster:AdvertisedAddress", "127.0.0.1");
        }
    }

    /// <summary>The instance name of a test host on a server database.</summary>
    public const string ClusterInstance = "test-instance";

    public async ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        if (_postgresName is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(_postgresAdmin);
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_postgresName}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }
}

/// <summary>A real temporary folder, deleted at the end of the test.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "grace-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
