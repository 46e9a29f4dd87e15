using System.Globalization;
using System.Text.Json;
using Grace.Engine.Adapters.Postgres;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Microsoft.Data.SqlClient;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Engine.Adapters.SqlServer;

/// <summary>
/// <c>sqlserver.end-blockers</c>: head blockers from the DMVs, ended with KILL. SQL Server rolls
/// their transactions back, so there is no rollback. SQL Server cannot run on Grace's test machine:
/// this is exercised as generated statements only (the README lists what needs a real server).
/// An approval holds for the blocking sessions the approvers saw, each known by its session id and
/// login time; a session gone or a new one voids it, and only sessions of the snapshot are ended.
/// </summary>
public sealed class SqlServerEndBlockersExecutor : RemediationAction<EndBlockersParameters>
{
    public override string Action => "sqlserver.end-blockers";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(SqlServerKind.Id);
    public override bool CanRollback => false;

    protected override string Describe(ActionRequest request, EndBlockersParameters p) =>
        $"Ends (KILL) the SQL Server sessions on '{request.Target.Key}' that have blocked others for more than {p.MinBlockedSeconds} s.";

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, EndBlockersParameters p, CancellationToken cancellationToken)
    {
        var blockers = await HeadBlockersAsync(request, p, cancellationToken);
        return Snapshot(blockers);
    }

    /// <summary>The snapshot of a set of head blockers: what the approvers see and what must not change.</summary>
    internal static SnapshotState Snapshot(IReadOnlyCollection<SqlServerSession> blockers)
    {
        var ordered = blockers.Distinct().OrderBy(b => b.SessionId).ThenBy(b => b.LoginTime).ToList();
        var words = ordered.Count == 0 ? "no head blocker beyond the threshold" : $"{ordered.Count} head blocker(s): {Consent.Names(ordered.Select(b => b.Label).ToList())}";
        return Consent.Snapshot(JsonSerializer.Serialize(ordered), ordered.Count == 0 ? "No head blocker beyond the threshold." : $"Head blockers: {words}.",
            new HeadBlockers(ordered), words);
    }

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, EndBlockersParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var snapshotted = (JsonSerializer.Deserialize<List<SqlServerSession>>(snapshot.State) ?? []).ToHashSet();
        await using var connection = new SqlConnection(request.Target.Settings<SqlServerTarget>().ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var ended = new List<int>();
        var spared = 0;
        foreach (var session in await HeadBlockersAsync(request, p, cancellationToken))
        {
            if (!snapshotted.Contains(session))
            {
                spared++;
                continue;
            }

            await using var kill = new SqlCommand(SqlServerStatements.KillIfSame(session.SessionId), connection);
            kill.Parameters.AddWithValue("@login_time", session.LoginTime);
            await kill.ExecuteNonQueryAsync(cancellationToken);
            ended.Add(session.SessionId);
        }

        return new ActionResult((ended.Count == 0 ? "No blocking session was found to end." : $"Ended session {string.Join(", ", ended)}.")
            + (spared > 0 ? $" Left {spared} session(s) that began blocking after the snapshot." : ""));
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current)
    {
        static List<SqlServerSession> Read(SnapshotState s)
        {
            try
            {
                return JsonSerializer.Deserialize<List<SqlServerSession>>(s.State) ?? [];
            }
            catch (JsonException)
            {
                return [];
            }
        }

        var (was, now) = (Read(approved), Read(current));
        var parts = new List<string>();
        if (was.Except(now).Select(s => s.Label).ToList() is { Count: > 0 } gone)
        {
            parts.Add($"no longer blocking: {Consent.Names(gone)}");
        }

        if (now.Except(was).Select(s => s.Label).ToList() is { Count: > 0 } fresh)
        {
            parts.Add($"now blocking: {Consent.Names(fresh)}");
        }

        return parts.Count == 0 ? Consent.Compare(approved, current) : $"{string.Join("; ", parts)} (approved against: {approved.ApprovedAgainst ?? approved.Summary})";
    }

    private static async Task<List<SqlServerSession>> HeadBlockersAsync(ActionRequest request, EndBlockersParameters p, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(request.Target.Settings<SqlServerTarget>().ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand(SqlServerStatements.HeadBlockers, connection);
        command.Parameters.AddWithValue("@min_ms", (long)(p.MinBlockedSeconds * 1000));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var sessions = new List<SqlServerSession>();
        while (await reader.ReadAsync(cancellationToken))
        {
            sessions.Add(new SqlServerSession(Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture), reader.GetDateTime(1)));
        }

        return sessions;
    }

    /// <summary>What ending head blockers depends on: the set of blocking sessions, as the approvers saw it.</summary>
    internal sealed record HeadBlockers(IReadOnlyList<SqlServerSession> Sessions);
}

/// <summary>A SQL Server session: its id and when it logged in (ids are reused).</summary>
public sealed record SqlServerSession(int SessionId, DateTime LoginTime)
{
    internal string Label => $"session {SessionId.ToString(CultureInfo.InvariantCulture)} (logged in {LoginTime:yyyy-MM-dd HH:mm:ss})";
}

/// <summary>
/// SQL Server maintenance, exercised as generated statements only: it loses nothing and cannot be
/// undone, so there is no rollback. What it depends on is the server the approvers saw: a restart
/// or a failover since (another <c>sqlserver_start_time</c>) voids the approval.
/// </summary>
public abstract class SqlServerMaintenanceExecutor : RemediationAction<TableParameters>
{
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(SqlServerKind.Id);
    public override bool CanRollback => false;

    /// <summary>The statement the action runs.</summary>
    protected internal abstract string Statement(TableParameters parameters);

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, TableParameters p, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(request.Target.Settings<SqlServerTarget>().ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand(SqlServerStatements.ServerStart, connection);
        var started = Convert.ToDateTime(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        return Snapshot(request.Target.Key, started);
    }

    /// <summary>The snapshot of a server that started at <paramref name="started"/>.</summary>
    internal static SnapshotState Snapshot(string target, DateTime started) =>
        Consent.Snapshot("{}", "Maintenance: nothing to keep.", new SqlServerInstance(started), $"the server of '{target}' up since {started:yyyy-MM-dd HH:mm:ss}");

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, TableParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(request.Target.Settings<SqlServerTarget>().ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var sql = Statement(p);
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellationToken);
        return new ActionResult($"{sql} done on '{request.Target.Key}'.");
    }

    /// <summary>A SQL Server instance by its start time.</summary>
    internal sealed record SqlServerInstance(DateTime StartedAt);
}

/// <summary><c>sqlserver.checkpoint</c>: runs CHECKPOINT.</summary>
public sealed class SqlServerCheckpointExecutor : SqlServerMaintenanceExecutor
{
    public override string Action => "sqlserver.checkpoint";

    protected override string Describe(ActionRequest request, TableParameters p) => $"Runs CHECKPOINT on '{request.Target.Key}'.";

    protected internal override string Statement(TableParameters parameters) => SqlServerStatements.Checkpoint;
}

/// <summary><c>sqlserver.update-statistics</c>: updates the statistics of a table (<c>Table</c>) or of every table.</summary>
public sealed class SqlServerUpdateStatisticsExecutor : SqlServerMaintenanceExecutor
{
    public override string Action => "sqlserver.update-statistics";

    protected override string Describe(ActionRequest request, TableParameters p) =>
        $"Updates statistics of {p.Table ?? "every table"} on '{request.Target.Key}'.";

    protected internal override string Statement(TableParameters parameters) => SqlServerStatements.UpdateStatistics(parameters.Table);
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
        : SqlIdentifiers.IsIdentifier(table)
            ? $"UPDATE STATISTICS {SqlIdentifiers.Quote(table, '[', ']')} WITH FULLSCAN;"
            : throw new ArgumentException($"'{table}' is not a plain table name.", nameof(table));
}

/// <summary>The settings of a SQL Server target. Its text never shows the connection string.</summary>
public sealed record SqlServerTarget(string ConnectionString)
{
    public override string ToString() => "SqlServerTarget { ConnectionString = *** }";
}

/// <summary>A SQL Server database reachable from any instance (<c>ConnectionString</c>); SqlClient says which failures are transient.</summary>
public sealed class SqlServerKind : TargetKindAdapter<SqlServerKind.Options>
{
    public static readonly TargetKind Id = new("SqlServer");

    public override TargetKind Kind => Id;

    protected override TargetSettings Resolve(string key, Options options) => string.IsNullOrWhiteSpace(options.ConnectionString)
        ? TargetSettings.Without("ConnectionString", "is required for a SqlServer target")
        : TargetSettings.Of(new SqlServerTarget(options.ConnectionString));

    public override bool IsTransient(Exception exception) => exception is System.Data.Common.DbException { IsTransient: true } or TimeoutException;

    /// <summary><c>Grace:Targets:&lt;key&gt;</c> of a SqlServer target.</summary>
    public sealed class Options
    {
        public string? ConnectionString { get; set; }
    }
}

/// <summary>Times a query on the target's SQL Server database, on its own connection.</summary>
public sealed class SqlServerBenchmark : Verify.Benchmarks.DatabaseBenchmark
{
    public override string Kind => "SqlServer";
    public override TargetKind TargetKind => SqlServerKind.Id;

    protected override System.Data.Common.DbConnection Open(Targets.ResolvedTarget target) =>
        new SqlConnection(new SqlConnectionStringBuilder(target.Settings<SqlServerTarget>().ConnectionString) { Pooling = false, ApplicationName = "grace-benchmark" }.ConnectionString);
}

public static class SqlServerTargetsExtensions
{
    /// <summary>The SqlServer kind: ending blockers, checkpoint, statistics, query benchmarks (generated statements; see the README).</summary>
    public static IServiceCollection AddSqlServerTargets(this IServiceCollection services)
    {
        services.AddSingleton<ITargetKindAdapter, SqlServerKind>();
        services.AddSingleton<IRemediationExecutor, SqlServerEndBlockersExecutor>();
        services.AddSingleton<IRemediationExecutor, SqlServerCheckpointExecutor>();
        services.AddSingleton<IRemediationExecutor, SqlServerUpdateStatisticsExecutor>();
        services.AddSingleton<Verify.Benchmarks.IBenchmarkSampler, SqlServerBenchmark>();
        return services;
    }
}
