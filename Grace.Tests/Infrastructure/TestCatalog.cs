using Microsoft.Data.Sqlite;

namespace Grace.Tests.Infrastructure;

/// <summary>Targets, patterns and playbooks the integration tests use, on real files in a temporary folder.</summary>
public static class TestCatalog
{
    public const string AdminPassword = "Admin-Password-for-tests-1";
    public const string WalMessage = "Orders writes are slow: test WAL too large";
    public const string CacheMessage = "Thumbnail write failed: test cache full";
    public const string LoggingMessage = "Checkout keeps failing: test needs debug";

    public static IEnumerable<KeyValuePair<string, string?>> Settings(TempFolder folder, int cacheTier = 2)
    {
        var s = new Dictionary<string, string?>
        {
            ["Grace:Database:DataDirectory"] = folder.Combine("data"),
            ["Grace:Identity:AdminPassword"] = AdminPassword,
            // Tests sign in often from one address; the sign-in rate limit has tests of its own.
            ["Grace:Identity:SignInAttemptsPerMinute"] = "10000",
            // The hosts tests reach Grace by (the test server's and Kestrel's on loopback): any other Host is refused.
            ["Grace:Http:AllowedHosts:0"] = "localhost",
            ["Grace:Http:AllowedHosts:1"] = "127.0.0.1",
            ["Grace:Engine:SweepIntervalSeconds"] = "0.2",
            ["Grace:Engine:VerifyPollIntervalMilliseconds"] = "100",
            ["Grace:Engine:LeaseSeconds"] = "10",
            ["Grace:Engine:QuarantineDirectory"] = folder.Combine("quarantine"),
            // Many tests act on a recording service whose witness contract ("/ok answers < 400") holds
            // before the action: they test exclusion and recovery, not the contract. The vacuous-contract
            // tests (EarnedAutonomyTests) set Refuse and Wait themselves.
            ["Grace:Autonomy:VacuousContract"] = "Act",
            ["Grace:Engine:CacheRoots:1"] = folder.Combine("cache-root"),
            // The shipped demo service gets a port of its own, so no test meets a Grace already running on 5133.
            ["Grace:Targets:demo-orders-api:Url"] = $"http://127.0.0.1:{FreeLoopbackPort()}/",

            ["Grace:Targets:test-db:Kind"] = "Sqlite",
            ["Grace:Targets:test-db:Path"] = folder.Combine("app.db"),
            ["Grace:Targets:test-cache:Kind"] = "Directory",
            ["Grace:Targets:test-cache:Path"] = folder.Combine("cache-root", "thumbnails"),

            ["Grace:Patterns:test-wal:MessageRegex"] = "test WAL too large",
            ["Grace:Patterns:test-wal:Playbooks:0"] = "test-checkpoint",
            ["Grace:Playbooks:test-checkpoint:Action"] = "sqlite.wal-checkpoint",
            ["Grace:Playbooks:test-checkpoint:Target"] = "test-db",
            ["Grace:Playbooks:test-checkpoint:Tier"] = "0",
            ["Grace:Playbooks:test-checkpoint:Contract:Probe"] = "sqlite.wal-bytes",
            ["Grace:Playbooks:test-checkpoint:Contract:Comparator"] = "LessThanOrEqual",
            ["Grace:Playbooks:test-checkpoint:Contract:Threshold"] = "0",
            ["Grace:Playbooks:test-checkpoint:Contract:DeadlineSeconds"] = "15",

            ["Grace:Patterns:test-cache:MessageRegex"] = "test cache full",
            ["Grace:Patterns:test-cache:Playbooks:0"] = "test-clear-cache",
            ["Grace:Playbooks:test-clear-cache:Action"] = "cache.clear",
            ["Grace:Playbooks:test-clear-cache:Target"] = "test-cache",
            ["Grace:Playbooks:test-clear-cache:Tier"] = cacheTier.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Grace:Playbooks:test-clear-cache:Contract:Probe"] = "directory.bytes",
            ["Grace:Playbooks:test-clear-cache:Contract:Comparator"] = "LessThanOrEqual",
            ["Grace:Playbooks:test-clear-cache:Contract:Threshold"] = "0",
            ["Grace:Playbooks:test-clear-cache:Contract:DeadlineSeconds"] = "15",

            // A contract that cannot hold (Grace.Web at Fatal after setting it to Debug): the rollback must restore the level.
            ["Grace:Patterns:test-logging:MessageRegex"] = "test needs debug",
            ["Grace:Patterns:test-logging:Playbooks:0"] = "test-debug-logging",
            ["Grace:Playbooks:test-debug-logging:Action"] = "logging.set-level",
            ["Grace:Playbooks:test-debug-logging:Target"] = "grace",
            ["Grace:Playbooks:test-debug-logging:Tier"] = "0",
            ["Grace:Playbooks:test-debug-logging:Parameters:Source"] = "Grace.Web",
            ["Grace:Playbooks:test-debug-logging:Parameters:Level"] = "Debug",
            ["Grace:Playbooks:test-debug-logging:Contract:Probe"] = "logging.level",
            ["Grace:Playbooks:test-debug-logging:Contract:Parameters:Source"] = "Grace.Web",
            ["Grace:Playbooks:test-debug-logging:Contract:Comparator"] = "Equal",
            ["Grace:Playbooks:test-debug-logging:Contract:Threshold"] = "5",
            ["Grace:Playbooks:test-debug-logging:Contract:DeadlineSeconds"] = "2",
        };
        return s;
    }

    /// <summary>The test catalog, with capture counting at most this many incidents per transaction (ADR 0036).</summary>
    public static IEnumerable<KeyValuePair<string, string?>> WithCaptureIncidentsPerCommit(TempFolder folder, int perCommit) =>
        Settings(folder).Append(new("Grace:Engine:CaptureIncidentsPerCommit", perCommit.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// A real SQLite database in WAL mode whose WAL has grown: automatic checkpoints are off and
    /// the returned connection stays open, so SQLite does not fold the WAL back on close.
    /// </summary>
    public static SqliteConnection GrowWal(string path, int rows = 2000)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, body TEXT);";
        command.ExecuteNonQuery();
        for (var i = 0; i < rows; i += 100)
        {
            using var tx = connection.BeginTransaction();
            using var insert = connection.CreateCommand();
            insert.Transaction = tx;
            insert.CommandText = "INSERT INTO orders(body) SELECT printf('%0500d', value) FROM generate_series(1, 100);";
            try
            {
                insert.ExecuteNonQuery();
            }
            catch (SqliteException)
            {
                // Older SQLite builds have no generate_series: insert row by row.
                insert.CommandText = "INSERT INTO orders(body) VALUES (printf('%0500d', 1));";
                for (var r = 0; r < 100; r++)
                {
                    insert.ExecuteNonQuery();
                }
            }

            tx.Commit();
        }

        return connection;
    }

    public static void FillCache(string folder, int files = 20, int bytes = 4096)
    {
        Directory.CreateDirectory(Path.Combine(folder, "nested"));
        for (var i = 0; i < files; i++)
        {
            File.WriteAllBytes(Path.Combine(folder, i % 2 == 0 ? "" : "nested", $"thumb-{i}.bin"), new byte[bytes]);
        }
    }
}
