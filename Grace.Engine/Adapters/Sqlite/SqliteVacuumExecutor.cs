using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
using Microsoft.Data.Sqlite;

namespace Grace.Engine.Adapters.Sqlite;

/// <summary>
/// <c>sqlite.vacuum</c>: rebuilds a SQLite file, returning free pages to the disk. It loses nothing
/// and cannot be undone, so there is no rollback. Writers wait while the file is rebuilt, for a time
/// that grows with its size: an approval holds for the size the approvers saw, within a factor of
/// two (the same power-of-two size class), and a file that grew past it needs a new approval.
/// </summary>
public sealed class SqliteVacuumExecutor : RemediationAction<NoParameters>
{
    public override string Action => "sqlite.vacuum";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(SqliteKind.Id);
    public override bool CanRollback => false;

    protected override string Describe(ActionRequest request, NoParameters p) => $"Runs VACUUM on {request.Target.Settings<SqliteTarget>().Path}: the file is rebuilt and shrinks; writers wait meanwhile.";

    protected override Task<SnapshotState> SnapshotAsync(ActionRequest request, NoParameters p, CancellationToken cancellationToken)
    {
        var path = SqliteCheckpointExecutor.RequireFile(request);
        var bytes = new FileInfo(path).Length;
        var file = new FileSizeClass(Path.GetFullPath(path), bytes <= 1 ? 0 : 64 - long.LeadingZeroCount(bytes - 1));
        return Task.FromResult(Consent.Snapshot(JsonSerializer.Serialize(new { bytes }), $"{Path.GetFileName(path)}: {HumanFormat.Bytes(bytes)}.", file,
            $"{Path.GetFileName(path)}, {HumanFormat.Bytes(bytes)} (a rebuild of at most {HumanFormat.Bytes(1L << (int)file.SizeClass)})"));
    }

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, NoParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var path = SqliteCheckpointExecutor.RequireFile(request);
        var before = new FileInfo(path).Length;
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 30 }.ToString());
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "VACUUM;";
        await command.ExecuteNonQueryAsync(cancellationToken);
        var after = new FileInfo(path).Length;
        return new ActionResult($"VACUUM: {HumanFormat.Bytes(before)} → {HumanFormat.Bytes(after)}.", JsonSerializer.Serialize(new { before, after }));
    }

    /// <summary>The file and its size class: the smallest power of two (in bytes) at least its size.</summary>
    internal sealed record FileSizeClass(string Path, long SizeClass);
}
