using System.Globalization;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
using Grace.Engine.Verify;
using Npgsql;

namespace Grace.Engine.Adapters.Postgres;

/// <summary>
/// PostgreSQL maintenance: it loses nothing and cannot be undone, so there is no rollback. What it
/// depends on is the server the approvers saw: a restart or a failover to another server since
/// (a different postmaster start time) voids the approval, and so does a table dropped and created
/// again (a different oid) when the action names one.
/// </summary>
public abstract class PostgresMaintenanceExecutor : RemediationAction<TableParameters>
{
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(PostgresKind.Id);
    public override bool CanRollback => false;

    /// <summary>The statement the action runs.</summary>
    protected abstract string Statement(TableParameters parameters);

    /// <summary>
    /// What the action is about to change, read before it runs (the snapshot's state and summary):
    /// dead tuples for a vacuum, WAL since the last checkpoint for a checkpoint.
    /// </summary>
    protected abstract Task<(object State, string Summary)> ReadBeforeAsync(string connectionString, TableParameters parameters, CancellationToken cancellationToken);

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, TableParameters p, CancellationToken cancellationToken)
    {
        var table = p.Table;
        var connectionString = request.Target.Settings<PostgresTarget>().ConnectionString;
        var (state, summary) = await ReadBeforeAsync(connectionString, p, cancellationToken);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT pg_postmaster_start_time(), to_regclass(@table)::oid::bigint", connection);
        command.Parameters.Add(new NpgsqlParameter("table", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)table ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var server = new PostgresServer(reader.GetFieldValue<DateTimeOffset>(0), reader.IsDBNull(1) ? null : reader.GetInt64(1));
        // The approval holds for the server and table, not for the reading: dead tuples and WAL grow
        // by the second, and a growing backlog is no reason to ask again.
        return Consent.Snapshot(JsonSerializer.Serialize(state), summary, server,
            $"the server of '{request.Target.Key}' up since {server.StartedAt.UtcDateTime:u}" + (table is null ? "" : $", table {table}") + $" ({summary.TrimEnd('.')})");
    }

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, TableParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        await using var pg = new NpgsqlConnection(request.Target.Settings<PostgresTarget>().ConnectionString);
        await pg.OpenAsync(cancellationToken);
        var sql = Statement(p);
        await using var command = new NpgsqlCommand(sql, pg) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellationToken);
        return new ActionResult($"{sql} done on '{request.Target.Key}'.");
    }

    /// <summary>A PostgreSQL server by its start time, and the table's oid when the action names one.</summary>
    internal sealed record PostgresServer(DateTimeOffset StartedAt, long? TableOid);
}

/// <summary>
/// <c>postgres.checkpoint</c>: flushes dirty pages now, so the WAL a crash would replay shrinks to
/// almost nothing (<c>postgres.wal-since-checkpoint</c> proves it). The role needs <c>pg_checkpoint</c>
/// (PostgreSQL 15+) or superuser.
/// </summary>
public sealed class PostgresCheckpointExecutor : PostgresMaintenanceExecutor
{
    public override string Action => "postgres.checkpoint";

    protected override async Task<(object State, string Summary)> ReadBeforeAsync(string connectionString, TableParameters parameters, CancellationToken cancellationToken)
    {
        var bytes = await PostgresWalSinceCheckpointProbe.ReadWalSinceCheckpointAsync(connectionString, cancellationToken);
        return (new { walBytesSinceCheckpoint = bytes }, $"{HumanFormat.Bytes(bytes)} of WAL since the last checkpoint.");
    }

    protected override string Describe(ActionRequest request, TableParameters p) => $"Runs CHECKPOINT on '{request.Target.Key}': dirty pages are flushed now.";

    protected override string Statement(TableParameters parameters) => "CHECKPOINT";
}

/// <summary><c>postgres.vacuum-analyze</c>: reclaims dead rows and refreshes statistics of a table (<c>Table</c>) or the whole database.</summary>
public sealed class PostgresVacuumAnalyzeExecutor : PostgresMaintenanceExecutor
{
    public override string Action => "postgres.vacuum-analyze";

    protected override async Task<(object State, string Summary)> ReadBeforeAsync(string connectionString, TableParameters parameters, CancellationToken cancellationToken)
    {
        var dead = await PostgresDeadTuplesProbe.ReadDeadTuplesAsync(connectionString, parameters.Table, cancellationToken);
        return (new { deadTuples = dead }, $"{dead:N0} dead tuples.");
    }

    protected override string Describe(ActionRequest request, TableParameters p) =>
        $"Runs VACUUM (ANALYZE) on {p.Table ?? "every table"} of '{request.Target.Key}': dead rows are reclaimed and statistics refreshed.";

    protected override string Statement(TableParameters parameters) => VacuumSql(parameters.Table);

    /// <summary>The statement for one table (quoted, plain names only) or the whole database.</summary>
    public static string VacuumSql(string? table) => table is null ? "VACUUM (ANALYZE)" : $"VACUUM (ANALYZE) {SqlIdentifiers.Quote(table)}";
}

/// <summary><c>postgres.dead-tuples</c>: dead rows waiting for vacuum, in one table (<c>Table</c>) or the whole database.</summary>
public sealed class PostgresDeadTuplesProbe : Probe<TableParameters>
{
    public override string Key => "postgres.dead-tuples";
    public override string Unit => "rows";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(PostgresKind.Id);

    protected override Task<double> ReadAsync(ProbeRequest request, TableParameters p, CancellationToken cancellationToken) =>
        ReadDeadTuplesAsync(request.Target.Settings<PostgresTarget>().ConnectionString, p.Table, cancellationToken);

    internal static async Task<double> ReadDeadTuplesAsync(string connectionString, string? table, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        // The statistics collector reports with a small delay; a fresh snapshot makes the reading current for this session.
        await using (var clear = new NpgsqlCommand("SELECT pg_stat_clear_snapshot()", connection))
        {
            await clear.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var command = new NpgsqlCommand(table is null
            ? "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables"
            : "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables WHERE relname = @table OR schemaname || '.' || relname = @table", connection);
        if (table is not null)
        {
            command.Parameters.AddWithValue("table", table);
        }

        return Convert.ToDouble(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// <c>postgres.wal-since-checkpoint</c>: bytes of WAL written since the redo point of the last
/// checkpoint, which is what crash recovery would replay. A checkpoint brings it back to almost
/// nothing; it is the same for every database of the server.
/// </summary>
public sealed class PostgresWalSinceCheckpointProbe : Probe<NoParameters>
{
    public override string Key => "postgres.wal-since-checkpoint";
    public override string Unit => "bytes";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(PostgresKind.Id);

    protected override Task<double> ReadAsync(ProbeRequest request, NoParameters p, CancellationToken cancellationToken) =>
        ReadWalSinceCheckpointAsync(request.Target.Settings<PostgresTarget>().ConnectionString, cancellationToken);

    internal static async Task<double> ReadWalSinceCheckpointAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        // pg_current_wal_lsn fails on a standby (it writes no WAL of its own), which is the right answer there.
        await using var command = new NpgsqlCommand("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), redo_lsn) FROM pg_control_checkpoint()", connection);
        return Convert.ToDouble(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }
}
