using System.Globalization;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Verify;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Grace.Engine.Execute;

/// <summary>
/// Database maintenance: <c>sqlite.vacuum</c> (rebuilds the file, returning free pages to the disk),
/// <c>postgres.checkpoint</c>, <c>postgres.vacuum-analyze</c> (a table, or the whole database).
/// Maintenance loses nothing and cannot be undone, so there is no rollback.
/// </summary>
public sealed class DatabaseMaintenanceExecutor(string action) : IRemediationExecutor
{
    public string Action => action;

    public IReadOnlySet<TargetKind> TargetKinds { get; } = action.StartsWith("sqlite", StringComparison.Ordinal)
        ? new HashSet<TargetKind> { TargetKind.Sqlite }
        : new HashSet<TargetKind> { TargetKind.Postgres };

    public bool CanRollback => false;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        if (parameters.TryGetValue("Table", out var table) && !IsIdentifier(table))
        {
            yield return $"Parameters:Table '{table}' is not a plain table name (letters, digits, '_' and one optional schema '.').";
        }
    }

    public string Describe(ActionRequest request) => action switch
    {
        "sqlite.vacuum" => $"Runs VACUUM on {request.Target.Path}: the file is rebuilt and shrinks; writers wait meanwhile.",
        "postgres.checkpoint" => $"Runs CHECKPOINT on '{request.Target.Key}': dirty pages are flushed now.",
        _ => $"Runs VACUUM (ANALYZE) on {(request.Parameters.TryGetValue("Table", out var t) ? t : "every table")} of '{request.Target.Key}': dead rows are reclaimed and statistics refreshed.",
    };

    public async Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        if (action == "sqlite.vacuum")
        {
            var path = request.Target.Path is { } p && File.Exists(p) ? p : throw new ActionRefusedException($"SQLite database of target '{request.Target.Key}' does not exist.");
            var bytes = new FileInfo(path).Length;
            return new SnapshotState(JsonSerializer.Serialize(new { bytes }), $"{Path.GetFileName(path)}: {bytes:N0} bytes.", path);
        }

        var dead = await PostgresDeadTuplesProbe.ReadDeadTuplesAsync(request.Target.ConnectionString, request.Parameters.GetValueOrDefault("Table"), cancellationToken);
        return new SnapshotState(JsonSerializer.Serialize(new { deadTuples = dead }), $"{dead:N0} dead tuples.", request.Target.Key);
    }

    public async Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        if (action == "sqlite.vacuum")
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

        await using var pg = new NpgsqlConnection(request.Target.ConnectionString ?? throw new ActionRefusedException($"Target '{request.Target.Key}' has no ConnectionString."));
        await pg.OpenAsync(cancellationToken);
        var sql = action == "postgres.checkpoint" ? "CHECKPOINT" : PostgresVacuumSql(request.Parameters.GetValueOrDefault("Table"));
        await using var pgCommand = new NpgsqlCommand(sql, pg) { CommandTimeout = 0 };
        await pgCommand.ExecuteNonQueryAsync(cancellationToken);
        return new ActionResult($"{sql} done on '{request.Target.Key}'.");
    }

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Maintenance cannot be undone, and loses nothing.");

    internal static string PostgresVacuumSql(string? table) => table is null ? "VACUUM (ANALYZE)" : $"VACUUM (ANALYZE) {QuoteIdentifier(table)}";

    internal static bool IsIdentifier(string name) => name.Split('.') is { Length: <= 2 } parts
        && parts.All(p => p.Length is > 0 and <= 63 && (char.IsAsciiLetter(p[0]) || p[0] == '_') && p.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'));

    // Only plain identifiers pass validation; quoting them keeps case and keeps SQL out.
    internal static string QuoteIdentifier(string name) => IsIdentifier(name)
        ? string.Join('.', name.Split('.').Select(p => $"\"{p}\""))
        : throw new ActionRefusedException($"'{name}' is not a plain table name.");
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
    /// <summary>Head blockers: sessions that block others and are not blocked themselves, waiting longer than @min_ms.</summary>
    public const string HeadBlockers = """
        SELECT DISTINCT r.blocking_session_id AS session_id
        FROM sys.dm_exec_requests AS r
        WHERE r.blocking_session_id <> 0
          AND r.wait_time > @min_ms
          AND r.blocking_session_id NOT IN (SELECT session_id FROM sys.dm_exec_requests WHERE blocking_session_id <> 0)
          AND r.blocking_session_id <> @@SPID;
        """;

    /// <summary>KILL takes no parameter; the session id is an integer read from the DMV, never text from a person.</summary>
    public static string Kill(int sessionId) => sessionId > 50
        ? $"KILL {sessionId.ToString(CultureInfo.InvariantCulture)};"
        : throw new ArgumentOutOfRangeException(nameof(sessionId), "Session ids up to 50 are SQL Server's own; Grace never ends them.");

    public const string Checkpoint = "CHECKPOINT;";

    public static string UpdateStatistics(string? table) => table is null
        ? "EXEC sp_updatestats;"
        : DatabaseMaintenanceExecutor.IsIdentifier(table)
            ? $"UPDATE STATISTICS {string.Join('.', table.Split('.').Select(p => $"[{p}]"))} WITH FULLSCAN;"
            : throw new ArgumentException($"'{table}' is not a plain table name.", nameof(table));
}
