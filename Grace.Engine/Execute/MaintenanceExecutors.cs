using System.Globalization;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Verify;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Grace.Engine.Execute;

/// <summary>Table names in maintenance statements: plain identifiers only, quoted.</summary>
public static class DatabaseMaintenance
{
    internal static string PostgresVacuumSql(string? table) => table is null ? "VACUUM (ANALYZE)" : $"VACUUM (ANALYZE) {QuoteIdentifier(table)}";

    internal static bool IsIdentifier(string name) => name.Split('.') is { Length: <= 2 } parts
        && parts.All(p => p.Length is > 0 and <= 63 && (char.IsAsciiLetter(p[0]) || p[0] == '_') && p.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'));

    // Only plain identifiers pass validation; quoting them keeps case and keeps SQL out.
    internal static string QuoteIdentifier(string name) => IsIdentifier(name)
        ? string.Join('.', name.Split('.').Select(p => $"\"{p}\""))
        : throw new ActionRefusedException($"'{name}' is not a plain table name.");

    internal static IEnumerable<string> ValidateTable(IReadOnlyDictionary<string, string> parameters)
    {
        if (parameters.TryGetValue("Table", out var table) && !IsIdentifier(table))
        {
            yield return $"Parameters:Table '{table}' is not a plain table name (letters, digits, '_' and one optional schema '.').";
        }
    }
}

/// <summary>
/// <c>sqlite.vacuum</c>: rebuilds a SQLite file, returning free pages to the disk. It loses nothing
/// and cannot be undone, so there is no rollback. Writers wait while the file is rebuilt, for a time
/// that grows with its size: an approval holds for the size the approvers saw, within a factor of
/// two (the same power-of-two size class), and a file that grew past it needs a new approval.
/// </summary>
public sealed class SqliteVacuumExecutor : IRemediationExecutor
{
    public string Action => "sqlite.vacuum";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Sqlite };
    public bool CanRollback => false;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters) => [];

    public string Describe(ActionRequest request) => $"Runs VACUUM on {request.Target.Path}: the file is rebuilt and shrinks; writers wait meanwhile.";

    public Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var path = request.Target.Path is { } p && File.Exists(p) ? p : throw new ActionRefusedException($"SQLite database of target '{request.Target.Key}' does not exist.");
        var bytes = new FileInfo(path).Length;
        var file = new FileSizeClass(Path.GetFullPath(path), bytes <= 1 ? 0 : 64 - long.LeadingZeroCount(bytes - 1));
        return Task.FromResult(Consent.Snapshot(JsonSerializer.Serialize(new { bytes }), $"{Path.GetFileName(path)}: {bytes:N0} bytes.", file,
            $"{Path.GetFileName(path)}, {Consent.Size(bytes)} (a rebuild of at most {Consent.Size(1L << (int)file.SizeClass)})"));
    }

    public async Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var path = request.Target.Path!;
        var before = new FileInfo(path).Length;
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 30 }.ToString());
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "VACUUM;";
        await command.ExecuteNonQueryAsync(cancellationToken);
        var after = new FileInfo(path).Length;
        return new ActionResult($"VACUUM: {before:N0} → {after:N0} bytes.", JsonSerializer.Serialize(new { before, after }));
    }

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Maintenance cannot be undone, and loses nothing.");

    /// <summary>The file and its size class: the smallest power of two (in bytes) at least its size.</summary>
    internal sealed record FileSizeClass(string Path, long SizeClass);
}

/// <summary>
/// PostgreSQL maintenance: it loses nothing and cannot be undone, so there is no rollback. What it
/// depends on is the server the approvers saw: a restart or a failover to another server since
/// (a different postmaster start time) voids the approval, and so does a table dropped and created
/// again (a different oid) when the action names one.
/// </summary>
public abstract class PostgresMaintenanceExecutor : IRemediationExecutor
{
    public abstract string Action { get; }
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Postgres };
    public bool CanRollback => false;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters) => DatabaseMaintenance.ValidateTable(parameters);

    public abstract string Describe(ActionRequest request);

    /// <summary>The statement the action runs.</summary>
    protected abstract string Statement(ActionRequest request);

    public async Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var table = request.Parameters.GetValueOrDefault("Table");
        var dead = await PostgresDeadTuplesProbe.ReadDeadTuplesAsync(request.Target.ConnectionString, table, cancellationToken);
        await using var connection = new NpgsqlConnection(request.Target.ConnectionString ?? throw new ActionRefusedException($"Target '{request.Target.Key}' has no ConnectionString."));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT pg_postmaster_start_time(), to_regclass(@table)::oid::bigint", connection);
        command.Parameters.Add(new NpgsqlParameter("table", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)table ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var server = new PostgresServer(reader.GetFieldValue<DateTimeOffset>(0), reader.IsDBNull(1) ? null : reader.GetInt64(1));
        return Consent.Snapshot(JsonSerializer.Serialize(new { deadTuples = dead }), $"{dead:N0} dead tuples.", server,
            $"the server of '{request.Target.Key}' up since {server.StartedAt.UtcDateTime:u}" + (table is null ? "" : $", table {table}") + $" ({dead:N0} dead tuples)");
    }

    public async Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        await using var pg = new NpgsqlConnection(request.Target.ConnectionString ?? throw new ActionRefusedException($"Target '{request.Target.Key}' has no ConnectionString."));
        await pg.OpenAsync(cancellationToken);
        var sql = Statement(request);
        await using var command = new NpgsqlCommand(sql, pg) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellationToken);
        return new ActionResult($"{sql} done on '{request.Target.Key}'.");
    }

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Maintenance cannot be undone, and loses nothing.");

    /// <summary>A PostgreSQL server by its start time, and the table's oid when the action names one.</summary>
    internal sealed record PostgresServer(DateTimeOffset StartedAt, long? TableOid);
}

/// <summary><c>postgres.checkpoint</c>: flushes dirty pages now.</summary>
public sealed class PostgresCheckpointExecutor : PostgresMaintenanceExecutor
{
    public override string Action => "postgres.checkpoint";

    public override string Describe(ActionRequest request) => $"Runs CHECKPOINT on '{request.Target.Key}': dirty pages are flushed now.";

    protected override string Statement(ActionRequest request) => "CHECKPOINT";
}

/// <summary><c>postgres.vacuum-analyze</c>: reclaims dead rows and refreshes statistics of a table (<c>Table</c>) or the whole database.</summary>
public sealed class PostgresVacuumAnalyzeExecutor : PostgresMaintenanceExecutor
{
    public override string Action => "postgres.vacuum-analyze";

    public override string Describe(ActionRequest request) =>
        $"Runs VACUUM (ANALYZE) on {(request.Parameters.TryGetValue("Table", out var t) ? t : "every table")} of '{request.Target.Key}': dead rows are reclaimed and statistics refreshed.";

    protected override string Statement(ActionRequest request) => DatabaseMaintenance.PostgresVacuumSql(request.Parameters.GetValueOrDefault("Table"));
}

/// <summary><c>postgres.dead-tuples</c>: dead rows waiting for vacuum, in one table (<c>Table</c>) or the whole database.</summary>
public sealed class PostgresDeadTuplesProbe : IProbe
{
    public string Key => "postgres.dead-tuples";
    public string Unit => "rows";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Postgres };

    public Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken) =>
        ReadDeadTuplesAsync(request.Target.ConnectionString, request.Parameters.GetValueOrDefault("Table"), cancellationToken);

    internal static async Task<double> ReadDeadTuplesAsync(string? connectionString, string? table, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString ?? throw new InvalidOperationException("The target has no ConnectionString."));
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

/// <summary><c>sqlite.file-bytes</c>: size of a SQLite database file.</summary>
public sealed class SqliteFileBytesProbe : IProbe
{
    public string Key => "sqlite.file-bytes";
    public string Unit => "bytes";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Sqlite };

    public Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken) =>
        Task.FromResult((double)new FileInfo(request.Target.Path ?? throw new InvalidOperationException($"Target '{request.Target.Key}' has no Path.")).Length);
}

/// <summary>
/// SQL Server statements of the same actions, built as text: SQL Server cannot run on the test
/// machine, so these are checked as generated SQL (see the README for what needs a real server).
/// </summary>
public static class SqlServerStatements
{
    /// <summary>
    /// Head blockers: sessions that block others and are not blocked themselves, waiting longer than
    /// @min_ms, each with its login time (session ids are reused, so the pair is the session).
    /// </summary>
    public const string HeadBlockers = """
        SELECT DISTINCT r.blocking_session_id AS session_id, s.login_time
        FROM sys.dm_exec_requests AS r
        JOIN sys.dm_exec_sessions AS s ON s.session_id = r.blocking_session_id
        WHERE r.blocking_session_id <> 0
          AND r.wait_time > @min_ms
          AND r.blocking_session_id NOT IN (SELECT session_id FROM sys.dm_exec_requests WHERE blocking_session_id <> 0)
          AND r.blocking_session_id <> @@SPID;
        """;

    /// <summary>When the server started: a restart or failover since the approval is another server.</summary>
    public const string ServerStart = "SELECT sqlserver_start_time FROM sys.dm_os_sys_info;";

    /// <summary>KILL takes no parameter; the session id is an integer read from the DMV, never text from a person.</summary>
    public static string Kill(int sessionId) => sessionId > 50
        ? $"KILL {sessionId.ToString(CultureInfo.InvariantCulture)};"
        : throw new ArgumentOutOfRangeException(nameof(sessionId), "Session ids up to 50 are SQL Server's own; Grace never ends them.");

    /// <summary>Ends a session only if it is still the one that logged in at @login_time: a reused session id is another session, which nobody approved ending.</summary>
    public static string KillIfSame(int sessionId) =>
        $"IF EXISTS (SELECT 1 FROM sys.dm_exec_sessions WHERE session_id = {sessionId.ToString(CultureInfo.InvariantCulture)} AND login_time = @login_time) {Kill(sessionId)}";

    public const string Checkpoint = "CHECKPOINT;";

    public static string UpdateStatistics(string? table) => table is null
        ? "EXEC sp_updatestats;"
        : DatabaseMaintenance.IsIdentifier(table)
            ? $"UPDATE STATISTICS {string.Join('.', table.Split('.').Select(p => $"[{p}]"))} WITH FULLSCAN;"
            : throw new ArgumentException($"'{table}' is not a plain table name.", nameof(table));
}
