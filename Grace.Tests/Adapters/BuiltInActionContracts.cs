using Grace.Data;
using Grace.Engine.Adapters.Breakers;
using Grace.Engine.Adapters.FeatureFlags;
using Grace.Engine.Adapters.Postgres;
using Grace.Engine.Adapters.Processes;
using Grace.Engine.Adapters.Sqlite;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.FeatureManagement;
using Npgsql;

namespace Grace.Tests.Adapters;

// The contract suite (AdapterContractTests) for the built-in actions the first contracts did not
// cover. Each runs on a real counterpart: a SQLite file, PostgreSQL sessions holding real locks,
// Grace's own flag overrides in its database, and Polly breakers tripped by real failures.

/// <summary><c>sqlite.vacuum</c> on a real SQLite file left large by deleted rows: the rebuild shrinks it; it cannot be undone.</summary>
public sealed class SqliteVacuumContract : AdapterContractTests
{
    private const long Shrunk = 64 * 1024;

    protected override IRemediationExecutor Action { get; } = new SqliteVacuumExecutor();
    protected override IProbe Probe { get; } = new SqliteFileBytesProbe();

    protected override Task<ResolvedTarget> BreakAsync()
    {
        var path = Folder.Combine("app.db");
        using (var holder = TestCatalog.GrowWal(path, rows: 3000))
        {
            using var delete = holder.CreateCommand();
            delete.CommandText = "PRAGMA wal_checkpoint(TRUNCATE); DELETE FROM orders; PRAGMA wal_checkpoint(TRUNCATE);";
            delete.ExecuteNonQuery();
        }

        SqliteConnection.ClearAllPools();
        return Task.FromResult(TestTargets.Sqlite("app-db", path));
    }

    protected override ResolvedTarget Unreachable() => TestTargets.Sqlite("app-db", Folder.Combine("missing.db"));

    // Thousands of deleted rows leave pages the rebuild gives back; an empty schema fits in a few pages.
    protected override bool Healed(double reading) => reading < Shrunk;

    public override Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        return base.DisposeAsync();
    }
}

/// <summary>
/// <c>postgres.checkpoint</c> on a real PostgreSQL server with WAL written since its last checkpoint:
/// the checkpoint brings what a crash would replay back to almost nothing; it cannot be undone.
/// It runs on a quiet server of its own (the test command's second cluster): a checkpoint is
/// server-wide, and on the shared server any other test's DROP DATABASE checkpoints it too.
/// </summary>
public sealed class PostgresCheckpointContract : AdapterContractTests
{
    private const double Written = 16 * 1024 * 1024;
    private const double Flushed = 1024 * 1024;

    private static readonly string ConnectionString =
        Environment.GetEnvironmentVariable("GRACE_TEST_POSTGRES_QUIET") is { Length: > 0 } cs
            ? new NpgsqlConnectionStringBuilder(cs) { Pooling = false }.ConnectionString
            : throw new InvalidOperationException("GRACE_TEST_POSTGRES_QUIET is not set: run the tests through scripts/test.sh, which starts the quiet PostgreSQL cluster this test needs.");

    protected override IRemediationExecutor Action { get; } = new PostgresCheckpointExecutor();
    protected override IProbe Probe { get; } = new PostgresWalSinceCheckpointProbe();
    protected override string Secret => new NpgsqlConnectionStringBuilder(ConnectionString).Password!;

    protected override async Task<ResolvedTarget> BreakAsync()
    {
        // A temporary table writes no WAL, so the rows go into a real one. Each round writes a few
        // MiB until enough WAL waits for a checkpoint (a timed checkpoint meanwhile means one more round).
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        var target = TestTargets.Postgres("orders-db", ConnectionString);
        var table = $"wal_{Guid.NewGuid():N}";
        await new NpgsqlCommand($"CREATE TABLE {table}(id int, payload text)", connection).ExecuteNonQueryAsync();
        for (var round = 0; round < 20 && await Probe.ReadAsync(new ProbeRequest(target, ProbeParameters, null), default) < Written; round++)
        {
            await new NpgsqlCommand($"INSERT INTO {table} SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g", connection).ExecuteNonQueryAsync();
        }

        await new NpgsqlCommand($"DROP TABLE {table}", connection).ExecuteNonQueryAsync();
        return target;
    }

    protected override ResolvedTarget Unreachable() =>
        TestTargets.Postgres("orders-db", new NpgsqlConnectionStringBuilder(ConnectionString) { Port = TestCatalog.FreeLoopbackPort(), Timeout = 2 }.ConnectionString);

    // The checkpoint record itself and the server's own bookkeeping are a few hundred bytes.
    protected override bool Healed(double reading) => reading < Flushed;
}

/// <summary><c>postgres.end-blockers</c> on real PostgreSQL sessions: an idle transaction holding an exclusive lock, and a query waiting on it.</summary>
public sealed class PostgresEndBlockersContract : AdapterContractTests
{
    // A role of this test's own, so its password is a secret that appears nowhere else (the shared
    // test role's password equals its name, which rightly shows in the blockers' descriptions).
    private readonly string _name = $"grace_contract_{Guid.NewGuid():N}";
    private readonly string _password = $"pw-{Guid.NewGuid():N}";
    private readonly List<NpgsqlConnection> _sessions = [];
    private string _connectionString = "";

    protected override IRemediationExecutor Action { get; } = new PostgresLockExecutor();
    protected override IProbe Probe { get; } = new PostgresBlockedSessionsProbe();
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["MinBlockedSeconds"] = "0" };
    protected override string Secret => _password;

    public override async Task InitializeAsync()
    {
        await using (var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString))
        {
            await admin.OpenAsync();
            await new NpgsqlCommand($"CREATE ROLE \"{_name}\" LOGIN PASSWORD '{_password}'", admin).ExecuteNonQueryAsync();
            await new NpgsqlCommand($"CREATE DATABASE \"{_name}\"", admin).ExecuteNonQueryAsync();
        }

        await using (var owner = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(TestDatabase.PostgresAdminConnectionString) { Database = _name, Pooling = false }.ConnectionString))
        {
            await owner.OpenAsync();
            await new NpgsqlCommand($"GRANT ALL ON SCHEMA public TO \"{_name}\"", owner).ExecuteNonQueryAsync();
        }

        _connectionString = new NpgsqlConnectionStringBuilder(TestDatabase.PostgresAdminConnectionString)
        {
            Database = _name, Username = _name, Password = _password, Pooling = false,
        }.ConnectionString;
        await using var setup = new NpgsqlConnection(_connectionString);
        await setup.OpenAsync();
        await new NpgsqlCommand("CREATE TABLE orders(id int primary key); INSERT INTO orders VALUES (1);", setup).ExecuteNonQueryAsync();
    }

    protected override async Task<ResolvedTarget> BreakAsync()
    {
        // The blocker: a transaction that takes an exclusive lock and goes idle, as a stuck job would.
        var blocker = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_connectionString) { ApplicationName = "stuck-job" }.ConnectionString);
        _sessions.Add(blocker);
        await blocker.OpenAsync();
        await new NpgsqlCommand("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;", blocker).ExecuteNonQueryAsync();

        // The victim: a query waiting for that lock (its outcome is not awaited; the session ends with the test).
        var victim = new NpgsqlConnection(_connectionString);
        _sessions.Add(victim);
        await victim.OpenAsync();
        _ = new NpgsqlCommand("SELECT count(*) FROM orders", victim) { CommandTimeout = 60 }.ExecuteScalarAsync().ContinueWith(t => t.Exception, TaskScheduler.Default);

        var target = TestTargets.Postgres("orders-db", _connectionString);
        for (var i = 0; i < 100 && await Probe.ReadAsync(new ProbeRequest(target, ProbeParameters, null), default) < 1; i++)
        {
            await Task.Delay(100);
        }

        return target;
    }

    protected override ResolvedTarget Unreachable() =>
        TestTargets.Postgres("orders-db", new NpgsqlConnectionStringBuilder(_connectionString) { Port = TestCatalog.FreeLoopbackPort(), Timeout = 2 }.ConnectionString);

    protected override bool Healed(double reading) => reading == 0;

    public override async Task DisposeAsync()
    {
        // The server ends the test's sessions first (a forced drop terminates them), so no client is
        // left waiting on a read when its connection is disposed: disposing a connection whose query
        // still waits for a lock waits with it.
        await using (var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString))
        {
            await admin.OpenAsync();
            await new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)", admin).ExecuteNonQueryAsync();
            await new NpgsqlCommand($"DROP ROLE IF EXISTS \"{_name}\"", admin).ExecuteNonQueryAsync();
        }

        foreach (var session in _sessions)
        {
            await session.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(t => t.Exception, TaskScheduler.Default);
        }

        await base.DisposeAsync();
    }
}

/// <summary><c>feature-flag.set</c> on Grace's own flags: the override is written to its database, and the rollback restores the configured value.</summary>
public sealed class FeatureFlagSetContract : AdapterContractTests
{
    private TestDatabase _database = null!;
    private GraceHost _host = null!;

    protected override IRemediationExecutor Action => new SetFlagAction(_host.Get<FeatureFlagOverrides>(), _host.Get<IFeatureManager>());
    protected override IProbe Probe => new FlagEnabledProbe(_host.Get<IFeatureManager>());
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["Flag"] = "NewCheckout", ["Enabled"] = "false" };
    protected override IReadOnlyDictionary<string, string> ProbeParameters => new Dictionary<string, string> { ["Flag"] = "NewCheckout" };

    public override async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, Folder);
        _host = new GraceHost(TestCatalog.Settings(Folder).Concat(_database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["FeatureManagement:NewCheckout"] = "true",
        })).Start();
    }

    // The broken state: the new checkout is on (configured so), and the playbook turns it off.
    protected override Task<ResolvedTarget> BreakAsync() => Task.FromResult(TestTargets.Grace("grace"));

    protected override bool CanBeUnreachable => false;

    protected override ResolvedTarget Unreachable() => throw new InvalidOperationException("Grace's own flags are always there.");

    protected override bool Healed(double reading) => reading == 0;

    public override async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary><c>breaker.reset</c> on a real Polly breaker that real failures opened; closing it cannot be undone (the next failures would open it again).</summary>
public sealed class BreakerResetContract : AdapterContractTests
{
    private readonly ServiceProvider _services = TestResilience.Services();

    protected override IRemediationExecutor Action => new ResetBreakerAction(_services.GetRequiredService<TargetBreakers>());
    protected override IProbe Probe => new BreakerStateProbe(_services.GetRequiredService<TargetBreakers>());

    protected override async Task<ResolvedTarget> BreakAsync()
    {
        var pipeline = _services.GetRequiredService<ActionResilience>().ForAction("stock-api");
        for (var i = 0; i < 4; i++)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => pipeline.ExecuteAsync<int>(_ => throw new InvalidOperationException("stock-api refused")).AsTask());
        }

        return TestTargets.Http("stock-api", "http://127.0.0.1:9/");
    }

    // A breaker is Grace's own state: there is no far side to be unreachable.
    protected override bool CanBeUnreachable => false;

    protected override ResolvedTarget Unreachable() => throw new InvalidOperationException("A breaker lives in Grace.");

    protected override bool Healed(double reading) => reading == (int)Polly.CircuitBreaker.CircuitState.Closed;

    public override async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary><c>process.restart</c> on a real child process Grace supervises, killed from outside as a crash would; a restart cannot be undone.</summary>
public sealed class ProcessRestartContract : AdapterContractTests
{
    private TestDatabase _database = null!;
    private GraceHost _host = null!;

    protected override IRemediationExecutor Action => _host.Get<ExecutorCatalog>().Executor("process.restart");
    protected override IProbe Probe => _host.Get<ExecutorCatalog>().Probe("process.alive");
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["StopTimeoutSeconds"] = "1", ["SettleSeconds"] = "1" };

    public override async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, Folder);
        _host = new GraceHost(TestCatalog.Settings(Folder).Concat(_database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:worker:Kind"] = "Process",
            ["Grace:Targets:worker:Command"] = "/bin/sh",
            ["Grace:Targets:worker:Arguments:0"] = "-c",
            ["Grace:Targets:worker:Arguments:1"] = "exec sleep 300",
            // A program that is not there: it cannot be started, by the host or by the action.
            ["Grace:Targets:gone:Kind"] = "Process",
            ["Grace:Targets:gone:Command"] = Folder.Combine("no-such-program"),
        })).Start();
    }

    protected override async Task<ResolvedTarget> BreakAsync()
    {
        // A crash: the worker is killed from outside Grace.
        var process = _host.Get<ProcessSupervisor>().ProcessOf("worker") ?? throw new InvalidOperationException("The supervised worker did not start.");
        process.Kill();
        await process.WaitForExitAsync();
        return _host.Get<TargetRegistry>().Resolve("worker");
    }

    protected override ResolvedTarget Unreachable() => _host.Get<TargetRegistry>().Resolve("gone");

    protected override bool Healed(double reading) => reading == 1;

    public override async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        await base.DisposeAsync();
    }
}
