using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
using Microsoft.Data.Sqlite;

namespace Grace.Engine.Adapters.Sqlite;

/// <summary>
/// <c>sqlite.wal-checkpoint</c>: copies the write-ahead log of a SQLite database back into the
/// database and (in the default <c>Truncate</c> mode) shrinks the WAL file to zero bytes.
/// A checkpoint loses nothing and cannot be undone, so there is no rollback.
/// Parameters: <c>Mode</c> = Passive | Full | Restart | Truncate (default). A checkpoint means something only
/// in WAL mode: an approval holds for the file and its journal mode as the approvers saw them.
/// </summary>
public sealed class SqliteCheckpointExecutor : RemediationAction<CheckpointParameters>
{
    public override string Action => "sqlite.wal-checkpoint";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(SqliteKind.Id);
    public override bool CanRollback => false;

    protected override string Describe(ActionRequest request, CheckpointParameters p) =>
        $"Checkpoints the WAL of {request.Target.Settings<SqliteTarget>().Path} ({Mode(p)}); committed data moves into the database file.";

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, CheckpointParameters p, CancellationToken cancellationToken)
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
        return Consent.Snapshot(state, $"{Path.GetFileName(path)}: journal {journalMode}, WAL {HumanFormat.Bytes(wal)}, file {HumanFormat.Bytes(size)}.", mode,
            $"{Path.GetFileName(path)} in journal mode {journalMode} (WAL {HumanFormat.Bytes(wal)})");
    }

    /// <summary>What a checkpoint depends on: the database file and its journal mode.</summary>
    internal sealed record JournalMode(string Path, string Mode);

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, CheckpointParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var path = RequireFile(request);
        var before = WalBytes(path);
        await using var connection = Open(path);
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA wal_checkpoint({Mode(p)});";
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
        var frames = logFrames == 0 && before > 0 && p.Mode == CheckpointMode.Truncate ? "Checkpointed the whole WAL into the database and truncated it" : $"Checkpointed {checkpointed} of {logFrames} WAL frames";
        return new ActionResult($"{frames}; WAL {HumanFormat.Bytes(before)} → {HumanFormat.Bytes(after)}.",
            JsonSerializer.Serialize(new { logFrames, checkpointed, walBytesBefore = before, walBytesAfter = after }));
    }


    internal static long WalBytes(string databasePath)
    {
        var wal = new FileInfo(databasePath + "-wal");
        return wal.Exists ? wal.Length : 0;
    }

    private static string Mode(CheckpointParameters p) => p.Mode.ToString().ToUpperInvariant();

    internal static string RequireFile(ActionRequest request)
    {
        var path = request.Target.Settings<SqliteTarget>().Path;
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

/// <summary>How far a checkpoint goes (SQLite's own modes).</summary>
public enum CheckpointMode
{
    Passive,
    Full,
    Restart,
    Truncate,
}

/// <summary>The parameters of <c>sqlite.wal-checkpoint</c>.</summary>
public sealed class CheckpointParameters
{
    public CheckpointMode Mode { get; init; } = CheckpointMode.Truncate;
}
