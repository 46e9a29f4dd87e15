using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly;

namespace Grace.Tests.Integration;

/// <summary>
/// What "changed" means for the actions whose stale consent is not shown end to end
/// (<see cref="StaleConsentTests"/>): two snapshots of the same state share a drift key, a change
/// the action depends on gives another key and is named, and a change it does not depend on does not.
/// </summary>
public sealed class DriftTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static ActionRequest Request(ResolvedTarget target, Dictionary<string, string>? parameters = null) =>
        new(Guid.NewGuid(), target, parameters ?? []);

    [Fact]
    public async Task A_checkpoint_holds_while_the_wal_grows_but_not_once_the_database_left_wal_mode()
    {
        var path = _folder.Combine("app.db");
        using var holder = TestCatalog.GrowWal(path, rows: 200);
        IRemediationExecutor executor = new SqliteCheckpointExecutor();
        var request = Request(TestTargets.Sqlite("db", path));
        var approved = await executor.SnapshotAsync(request, default);

        using (var more = holder.CreateCommand())
        {
            more.CommandText = "INSERT INTO orders(body) VALUES ('one more');";
            more.ExecuteNonQuery();
        }

        Assert.Equal(approved.DriftKey, (await executor.SnapshotAsync(request, default)).DriftKey);

        using (var mode = holder.CreateCommand())
        {
            mode.CommandText = "PRAGMA journal_mode=DELETE;";
            mode.ExecuteNonQuery();
        }

        var now = await executor.SnapshotAsync(request, default);
        Assert.NotEqual(approved.DriftKey, now.DriftKey);
        Assert.Contains("journal mode wal", executor.DescribeDrift(approved, now), StringComparison.Ordinal);
        Assert.Contains("journal mode delete", executor.DescribeDrift(approved, now), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_vacuum_holds_for_the_size_class_the_approvers_saw()
    {
        var path = _folder.Combine("app.db");
        using (var holder = TestCatalog.GrowWal(path, rows: 100))
        {
            using var checkpoint = holder.CreateCommand();
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
            checkpoint.ExecuteNonQuery();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        IRemediationExecutor executor = new SqliteVacuumExecutor();
        var request = Request(TestTargets.Sqlite("db", path));
        var approved = await executor.SnapshotAsync(request, default);
        Assert.Contains("a rebuild of at most", approved.ApprovedAgainst, StringComparison.Ordinal);
        Assert.Equal(approved.DriftKey, (await executor.SnapshotAsync(request, default)).DriftKey);

        // Four times the size: writers would wait for a rebuild the approvers did not agree to.
        using (var stream = new FileStream(path, FileMode.Open))
        {
            stream.SetLength(new FileInfo(path).Length * 4);
        }

        var now = await executor.SnapshotAsync(request, default);
        Assert.NotEqual(approved.DriftKey, now.DriftKey);
        Assert.Contains(approved.ApprovedAgainst!, executor.DescribeDrift(approved, now), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_breaker_reset_holds_for_the_state_the_approvers_saw()
    {
        await using var provider = TestResilience.Services();
        var breakers = provider.GetRequiredService<TargetBreakers>();
        var resilience = provider.GetRequiredService<ActionResilience>();
        var pipeline = resilience.ForAction("stock-api");
        for (var i = 0; i < 4; i++)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => pipeline.ExecuteAsync<int>(_ => throw new InvalidOperationException("broken")).AsTask());
        }

        var executor = new ResetBreakerAction(breakers);
        var request = Request(TestTargets.Http("stock-api", "http://127.0.0.1:9"));
        var approved = await executor.SnapshotAsync(request, default);
        Assert.Equal("breaker of 'stock-api' Open", approved.ApprovedAgainst);

        Assert.True(resilience.TryGetBreaker("stock-api", out _, out var control));
        await control.CloseAsync();
        var now = await executor.SnapshotAsync(request, default);
        Assert.NotEqual(approved.DriftKey, now.DriftKey);
        Assert.Contains("went from Open to Closed", executor.DescribeDrift(approved, now), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postgres_maintenance_holds_for_the_server_and_table_the_approvers_saw()
    {
        var name = $"grace_drift_{Guid.NewGuid():N}";
        await using (var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString))
        {
            await admin.OpenAsync();
            await new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin).ExecuteNonQueryAsync();
        }

        var cs = new NpgsqlConnectionStringBuilder(TestDatabase.PostgresAdminConnectionString) { Database = name, Pooling = false }.ConnectionString;
        try
        {
            await using var connection = new NpgsqlConnection(cs);
            await connection.OpenAsync();
            await new NpgsqlCommand("CREATE TABLE events(id int); INSERT INTO events SELECT generate_series(1, 100);", connection).ExecuteNonQueryAsync();
            var executor = new PostgresVacuumAnalyzeExecutor();
            var request = Request(TestTargets.Postgres("events-db", cs), new() { ["Table"] = "events" });
            var approved = await executor.SnapshotAsync(request, default);
            Assert.Contains("table events", approved.ApprovedAgainst, StringComparison.Ordinal);

            // Dead rows come and go without voiding anything: vacuuming them is what was approved.
            await new NpgsqlCommand("DELETE FROM events WHERE id % 2 = 0", connection).ExecuteNonQueryAsync();
            Assert.Equal(approved.DriftKey, (await executor.SnapshotAsync(request, default)).DriftKey);

            // A table dropped and made again is another table.
            await new NpgsqlCommand("DROP TABLE events; CREATE TABLE events(id int);", connection).ExecuteNonQueryAsync();
            Assert.NotEqual(approved.DriftKey, (await executor.SnapshotAsync(request, default)).DriftKey);
        }
        finally
        {
            await using var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString);
            await admin.OpenAsync();
            await new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", admin).ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public void Sql_server_head_blockers_are_sessions_by_id_and_login_time()
    {
        var executor = new SqlServerEndBlockersExecutor();
        var login = new DateTime(2026, 11, 24, 3, 0, 0, DateTimeKind.Utc);
        var approved = SqlServerEndBlockersExecutor.Snapshot([new SqlServerSession(73, login)]);
        Assert.Equal(approved.DriftKey, SqlServerEndBlockersExecutor.Snapshot([new SqlServerSession(73, login)]).DriftKey);

        // Session 73 ended and its id went to someone who logged in later.
        var reused = SqlServerEndBlockersExecutor.Snapshot([new SqlServerSession(73, login.AddMinutes(5))]);
        Assert.NotEqual(approved.DriftKey, reused.DriftKey);
        var change = executor.DescribeDrift(approved, reused);
        Assert.Contains("no longer blocking: session 73 (logged in 2026-11-24 03:00:00)", change, StringComparison.Ordinal);
        Assert.Contains("now blocking: session 73 (logged in 2026-11-24 03:05:00)", change, StringComparison.Ordinal);

        var restarted = SqlServerMaintenanceExecutor.Snapshot("orders-sql", login.AddHours(1));
        Assert.NotEqual(SqlServerMaintenanceExecutor.Snapshot("orders-sql", login).DriftKey, restarted.DriftKey);
        Assert.Equal(SqlServerMaintenanceExecutor.Snapshot("orders-sql", login).DriftKey, SqlServerMaintenanceExecutor.Snapshot("orders-sql", login).DriftKey);
    }

    [Fact]
    public async Task A_cache_over_the_listing_limit_is_compared_by_its_digest()
    {
        var options = new FixedOptionsMonitor<EngineOptions>(new EngineOptions { CacheRoots = [_folder.Combine("roots")], QuarantineDirectory = _folder.Combine("quarantine") });
        var paths = new PathResolver(new TestHostEnvironment(_folder.Path));
        var executor = new CacheDirectoryExecutor(options, paths, new CacheRoots(options, paths));
        var cache = _folder.Combine("roots", "big");
        Directory.CreateDirectory(cache);
        for (var i = 0; i <= CacheDirectoryExecutor.MaxListed; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(cache, $"{i}.bin"), [1]);
        }

        var request = Request(TestTargets.Directory("big", cache));
        var approved = await executor.SnapshotAsync(request, default);
        Assert.Equal(approved.DriftKey, (await executor.SnapshotAsync(request, default)).DriftKey);
        File.Delete(Path.Combine(cache, "0.bin"));
        await File.WriteAllBytesAsync(Path.Combine(cache, "new.bin"), [1]);

        var now = await executor.SnapshotAsync(request, default);
        Assert.NotEqual(approved.DriftKey, now.DriftKey);
        Assert.Equal("the cache's entries changed (1,001 files, 1001 B → 1,001 files, 1001 B)", executor.DescribeDrift(approved, now));
    }
}
