using System.Collections.Concurrent;
using Grace.Engine.Faults;
using Grace.Engine.Formatting;
using Grace.Engine.Targets;
using Microsoft.Data.Sqlite;

namespace Grace.Engine.Adapters.Sqlite;

/// <summary>Grows a SQLite database's write-ahead log and keeps a connection on it, as a long reader would.</summary>
public sealed class WalGrowthFault : IFaultDemo, IAsyncDisposable
{
    public static readonly FaultKind Kind = new("SqliteWalGrowth");

    private readonly ConcurrentBag<SqliteConnection> _held = [];

    public FaultInfo Info { get; } = new(Kind, "Grow a SQLite write-ahead log",
        "Writes rows with automatic checkpoints off and keeps a connection open, so the -wal file grows to the size you choose.", SqliteKind.Id, HasSize: true);

    public string? Unavailable(ResolvedTarget target) => null;

    public async Task<string> InjectAsync(ResolvedTarget target, int megabytes, CancellationToken cancellationToken)
    {
        var path = target.Settings<SqliteTarget>().Path;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // The connection stays open (and is kept) so SQLite does not fold the log back when it closes.
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken);
        await using (var setup = connection.CreateCommand())
        {
            setup.CommandText = "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE IF NOT EXISTS fault_rows(id INTEGER PRIMARY KEY, body TEXT);";
            await setup.ExecuteNonQueryAsync(cancellationToken);
        }

        var targetBytes = megabytes * 1024L * 1024;
        while (SqliteCheckpointExecutor.WalBytes(path) < targetBytes)
        {
            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO fault_rows(body) VALUES ($body);";
            var body = insert.Parameters.Add("$body", SqliteType.Text);
            await using var tx = await connection.BeginTransactionAsync(cancellationToken);
            insert.Transaction = (SqliteTransaction)tx;
            for (var i = 0; i < 200; i++)
            {
                body.Value = new string('x', 4000);
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }

            await tx.CommitAsync(cancellationToken);
        }

        _held.Add(connection);
        return $"WAL of {Path.GetFileName(path)} grown to {HumanFormat.Bytes(SqliteCheckpointExecutor.WalBytes(path))}.";
    }

    /// <summary>Closes the connections the fault keeps open.</summary>
    public async ValueTask DisposeAsync()
    {
        while (_held.TryTake(out var connection))
        {
            await connection.DisposeAsync();
        }
    }
}
