using System.Text.Json;
using Grace.Engine.Configuration;
using Microsoft.Data.Sqlite;

namespace Grace.Engine.Execute;

/// <summary>
/// <c>sqlite.wal-checkpoint</c>: copies the write-ahead log of a SQLite database back into the
/// database and (in the default <c>Truncate</c> mode) shrinks the WAL file to zero bytes.
/// A checkpoint loses nothing and cannot be undone, so there is no rollback.
/// Parameters: <c>Mode</c> = Passive | Full | Restart | Truncate. A checkpoint means something only
/// in WAL mode: an approval holds for the file and its journal mode as the approvers saw them.
/// </summary>
public sealed class SqliteCheckpointExecutor : IRemediationExecutor
{
    private static readonly string[] Modes = ["PASSIVE", "FULL", "RESTART", "TRUNCATE"];

    public string Action => "sqlite.wal-checkpoint";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Sqlite };
    public bool CanRollback => false;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        if (parameters.TryGetValue("Mode", out var mode) && !Modes.Contains(mode.ToUpperInvariant()))
        {
            yield return $"Parameters:Mode '{mode}' is not a checkpoint mode; use one of {string.Join(", ", Modes)}.";
        }
    }

    public string Describe(ActionRequest request) =>
        $"Checkpoints the WAL of {request.Target.Path} ({Mode(request)}); committed data moves into the database file.";

    public async Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var path = RequireFile(request);
        await using var connection = Open(path);
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        var journalMode = (string?)await command.ExecuteScalarAsync(cancellationToken) ?? "unknown";
        var wal = WalBytes(path);
        var size = new FileInfo(path).Length;
        var state = JsonSerializer.Serialize(new { path, journalMode, walBytes = wal, fileBytes = size });
        var mode = new JournalMode(Path.GetFullPath(path), journalMode);
        return Consent.Snapshot(state, $"{Path.GetFileName(path)}: journal {journalMode}, WAL {wal:N0} bytes, file {size:N0} bytes.", mode,
            $"{Path.GetFileName(path)} in journal mode {journalMode} (WAL {Consent.Size(wal)})");
    }

    /// <summary>What a checkpoint depends on: the database file and its journal mode.</summary>
    internal sealed record JournalMode(string Path, string Mode);

    public async Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var path = RequireFile(request);
        var before = WalBytes(path);
        await using var connection = Open(path);
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA wal_checkpoint({Mode(request)});";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var busy = reader.GetInt64(0);
        var logFrames = reader.GetInt64(1);
        var checkpointed = reader.GetInt64(2);
        if (busy != 0)
        {
            // Another connection held the database; the Polly pipeline retries this as transient.
            throw new SqliteException($"Checkpoint of {path} could not finish: the database was busy.", 5);
        }

        var after = WalBytes(path);
        // A TRUNCATE checkpoint resets the log before it answers, so its frame counts read 0: the sizes tell what moved.
        var frames = logFrames == 0 && before > 0 && string.Equals(Mode(request), "TRUNCATE", StringComparison.OrdinalIgnoreCase) ? "Checkpointed the whole WAL into the database and truncated it" : $"Checkpointed {checkpointed} of {logFrames} WAL frames";
        return new ActionResult($"{frames}; WAL {before:N0} → {after:N0} bytes.",
            JsonSerializer.Serialize(new { logFrames, checkpointed, walBytesBefore = before, walBytesAfter = after }));
    }

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) =>
        throw new NotSupportedException("A checkpoint cannot be undone (and loses nothing).");

    internal static long WalBytes(string databasePath)
    {
        var wal = new FileInfo(databasePath + "-wal");
        return wal.Exists ? wal.Length : 0;
    }

    private static string Mode(ActionRequest request) =>
        request.Parameters.TryGetValue("Mode", out var mode) ? mode.ToUpperInvariant() : "TRUNCATE";

    private static string RequireFile(ActionRequest request)
    {
        var path = request.Target.Path ?? throw new ActionRefusedException(
            $"Target '{request.Target.Key}' has no SQLite file (a target with UseGraceDatabase has none while Grace runs on PostgreSQL or SQL Server).");
        return File.Exists(path) ? path : throw new ActionRefusedException($"SQLite database '{path}' of target '{request.Target.Key}' does not exist.");
    }

    // No pooling: Grace must not keep a handle on a database it only visits. ReadWrite: never create a file.
    private static SqliteConnection Open(string path) => new(new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWrite,
        Pooling = false,
        DefaultTimeout = 5,
    }.ToString());
}
