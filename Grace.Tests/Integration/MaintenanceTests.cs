using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Grace.Tests.Integration;

/// <summary>Maintenance on a real SQLite file and the real PostgreSQL server; SQL Server statements as text.</summary>
public sealed class MaintenanceTests
{
    [Fact]
    public async Task Vacuum_shrinks_a_real_sqlite_file_after_deletes()
    {
        using var folder = new TempFolder();
        var path = folder.Combine("app.db");
        using (var holder = TestCatalog.GrowWal(path, rows: 3000))
        {
            using var delete = holder.CreateCommand();
            delete.CommandText = "PRAGMA wal_checkpoint(TRUNCATE); DELETE FROM orders; PRAGMA wal_checkpoint(TRUNCATE);";
            delete.ExecuteNonQuery();
        }

        SqliteConnection.ClearAllPools();
        var target = TestTargets.Sqlite("db", path);
        var executor = new SqliteVacuumExecutor();
        var request = new ActionRequest(Guid.NewGuid(), target, new Dictionary<string, string>());
        var before = await new SqliteFileBytesProbe().ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default);
        var snapshot = await executor.SnapshotAsync(request, default);
        await executor.ExecuteAsync(request, snapshot, default);
        var after = await new SqliteFileBytesProbe().ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default);
        Assert.True(after < before / 4, $"{before} → {after} bytes");
    }

    [Fact]
    public async Task Vacuum_analyze_clears_real_dead_tuples_in_postgres()
    {
        var name = $"grace_vacuum_{Guid.NewGuid():N}";
        await using (var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString))
        {
            await admin.OpenAsync();
            await new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin).ExecuteNonQueryAsync();
        }

        var cs = new NpgsqlConnectionStringBuilder(TestDatabase.PostgresAdminConnectionString) { Database = name, Pooling = false }.ConnectionString;
        try
        {
            await using (var setup = new NpgsqlConnection(cs))
            {
                await setup.OpenAsync();
                await new NpgsqlCommand("CREATE TABLE events(id int) WITH (autovacuum_enabled = false); INSERT INTO events SELECT generate_series(1, 20000); DELETE FROM events WHERE id % 2 = 0;", setup).ExecuteNonQueryAsync();
            }

            var target = TestTargets.Postgres("events-db", cs);
            var probe = new PostgresDeadTuplesProbe();
            var table = new Dictionary<string, string> { ["Table"] = "events" };
            double dead = 0;
            for (var i = 0; i < 50 && (dead = await probe.ReadAsync(new ProbeRequest(target, table, null), default)) < 10000; i++)
            {
                await Task.Delay(200); // the statistics collector reports shortly after the transaction
            }

            Assert.True(dead >= 10000, $"dead tuples before: {dead}");
            var executor = new PostgresVacuumAnalyzeExecutor();
            var request = new ActionRequest(Guid.NewGuid(), target, table);
            await executor.ExecuteAsync(request, await executor.SnapshotAsync(request, default), default);
            for (var i = 0; i < 50 && (dead = await probe.ReadAsync(new ProbeRequest(target, table, null), default)) > 0; i++)
            {
                await Task.Delay(200);
            }

            Assert.Equal(0, dead);
            // A checkpoint leaves no trace in the data; the server counts the checkpoints it was asked for.
            var requestedBefore = await RequestedCheckpointsAsync(cs);
            var checkpoint = new PostgresCheckpointExecutor();
            var plain = request with { Parameters = new Dictionary<string, string>() };
            var done = await checkpoint.ExecuteAsync(plain, await checkpoint.SnapshotAsync(plain, default), default);
            Assert.Contains("CHECKPOINT done", done.Message);
            Assert.True(await RequestedCheckpointsAsync(cs) > requestedBefore, "the server counted a requested checkpoint");
            Assert.Contains(executor.ValidateParameters(new Dictionary<string, string> { ["Table"] = "events; DROP TABLE x" }), e => e.Contains("plain table name", StringComparison.Ordinal));
        }
        finally
        {
            await using var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString);
            await admin.OpenAsync();
            await new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", admin).ExecuteNonQueryAsync();
        }
    }

    private static async Task<long> RequestedCheckpointsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        // PostgreSQL 17 moved the counter from pg_stat_bgwriter to pg_stat_checkpointer.
        var sql = connection.PostgreSqlVersion.Major >= 17 ? "SELECT num_requested FROM pg_stat_checkpointer" : "SELECT checkpoints_req FROM pg_stat_bgwriter";
        await new NpgsqlCommand("SELECT pg_stat_clear_snapshot()", connection).ExecuteNonQueryAsync();
        return Convert.ToInt64(await new NpgsqlCommand(sql, connection).ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Sql_server_statements_are_generated_safely()
    {
        Assert.Contains("sys.dm_exec_requests", SqlServerStatements.HeadBlockers);
        Assert.Contains("blocking_session_id <> @@SPID", SqlServerStatements.HeadBlockers);
        Assert.Contains("s.login_time", SqlServerStatements.HeadBlockers);
        Assert.Equal("IF EXISTS (SELECT 1 FROM sys.dm_exec_sessions WHERE session_id = 73 AND login_time = @login_time) KILL 73;", SqlServerStatements.KillIfSame(73));
        Assert.Throws<ArgumentOutOfRangeException>(() => SqlServerStatements.KillIfSame(7));
        Assert.Equal("SELECT sqlserver_start_time FROM sys.dm_os_sys_info;", SqlServerStatements.ServerStart);
        Assert.Equal("KILL 73;", SqlServerStatements.Kill(73));
        Assert.Throws<ArgumentOutOfRangeException>(() => SqlServerStatements.Kill(12));
        Assert.Equal("UPDATE STATISTICS [dbo].[Orders] WITH FULLSCAN;", SqlServerStatements.UpdateStatistics("dbo.Orders"));
        Assert.Equal("EXEC sp_updatestats;", SqlServerStatements.UpdateStatistics(null));
        Assert.Throws<ArgumentException>(() => SqlServerStatements.UpdateStatistics("Orders]; DROP TABLE Users;--"));
        Assert.Equal("CHECKPOINT;", SqlServerStatements.Checkpoint);
        Assert.Equal("VACUUM (ANALYZE) \"public\".\"events\"", PostgresVacuumAnalyzeExecutor.VacuumSql("public.events"));
    }

    [Fact]
    public async Task Sql_server_executors_validate_describe_and_fail_clearly_without_a_server()
    {
        var executor = new SqlServerEndBlockersExecutor();
        Assert.Contains(executor.ValidateParameters(new Dictionary<string, string> { ["MinBlockedSeconds"] = "-1" }), e => e.Contains("MinBlockedSeconds", StringComparison.Ordinal));
        var target = TestTargets.SqlServer("orders-sql", "Server=127.0.0.1,9;Database=orders;User Id=grace;Password=secret-value;Connect Timeout=2;TrustServerCertificate=True");
        var request = new ActionRequest(Guid.NewGuid(), target, new Dictionary<string, string> { ["MinBlockedSeconds"] = "20" });
        Assert.Contains("more than 20 s", executor.Describe(request));
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => executor.SnapshotAsync(request, default));
        Assert.DoesNotContain("secret-value", failure.ToString(), StringComparison.Ordinal);
    }
}
