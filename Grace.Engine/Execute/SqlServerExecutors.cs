using System.Globalization;
using System.Text.Json;
using Grace.Engine.Configuration;
using Microsoft.Data.SqlClient;

namespace Grace.Engine.Execute;

/// <summary>
/// <c>sqlserver.end-blockers</c>: head blockers from the DMVs, ended with KILL. SQL Server rolls
/// their transactions back, so there is no rollback. SQL Server cannot run on Grace's test machine:
/// this is exercised as generated statements only (the README lists what needs a real server).
/// An approval holds for the blocking sessions the approvers saw, each known by its session id and
/// login time; a session gone or a new one voids it, and only sessions of the snapshot are ended.
/// </summary>
public sealed class SqlServerEndBlockersExecutor : IRemediationExecutor
{
    public string Action => "sqlserver.end-blockers";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.SqlServer };
    public bool CanRollback => false;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        if (parameters.TryGetValue("MinBlockedSeconds", out var s) && (!double.TryParse(s, CultureInfo.InvariantCulture, out var v) || v < 0))
        {
            yield return "Parameters:MinBlockedSeconds must be a number of seconds, 0 or more.";
        }
    }

    public string Describe(ActionRequest request) =>
        $"Ends (KILL) the SQL Server sessions on '{request.Target.Key}' that have blocked others for more than {MinSeconds(request)} s.";

    public async Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var blockers = await HeadBlockersAsync(request, cancellationToken);
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

    public async Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var snapshotted = (JsonSerializer.Deserialize<List<SqlServerSession>>(snapshot.State) ?? []).ToHashSet();
        await using var connection = new SqlConnection(request.Target.ConnectionString ?? throw new ActionRefusedException($"Target '{request.Target.Key}' has no ConnectionString."));
        await connection.OpenAsync(cancellationToken);
        var ended = new List<int>();
        var spared = 0;
        foreach (var session in await HeadBlockersAsync(request, cancellationToken))
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

    public string DescribeDrift(SnapshotState approved, SnapshotState current)
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

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) =>
        throw new NotSupportedException("An ended session cannot be brought back; SQL Server rolled its transaction back.");

    private static async Task<List<SqlServerSession>> HeadBlockersAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(request.Target.ConnectionString ?? throw new ActionRefusedException($"Target '{request.Target.Key}' has no ConnectionString."));
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand(SqlServerStatements.HeadBlockers, connection);
        command.Parameters.AddWithValue("@min_ms", (long)(MinSeconds(request) * 1000));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var sessions = new List<SqlServerSession>();
        while (await reader.ReadAsync(cancellationToken))
        {
            sessions.Add(new SqlServerSession(Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture), reader.GetDateTime(1)));
        }

        return sessions;
    }

    private static double MinSeconds(ActionRequest request) =>
        request.Parameters.TryGetValue("MinBlockedSeconds", out var s) ? double.Parse(s, CultureInfo.InvariantCulture) : 30;

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
public abstract class SqlServerMaintenanceExecutor : IRemediationExecutor
{
    public abstract string Action { get; }
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.SqlServer };
    public bool CanRollback => false;

    public virtual IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters) => [];

    public abstract string Describe(ActionRequest request);

    /// <summary>The statement the action runs.</summary>
    protected internal abstract string Statement(ActionRequest request);

    public async Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(request.Target.ConnectionString ?? throw new ActionRefusedException($"Target '{request.Target.Key}' has no ConnectionString."));
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand(SqlServerStatements.ServerStart, connection);
        var started = Convert.ToDateTime(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        return Snapshot(request.Target.Key, started);
    }

    /// <summary>The snapshot of a server that started at <paramref name="started"/>.</summary>
    internal static SnapshotState Snapshot(string target, DateTime started) =>
        Consent.Snapshot("{}", "Maintenance: nothing to keep.", new SqlServerInstance(started), $"the server of '{target}' up since {started:yyyy-MM-dd HH:mm:ss}");

    public async Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(request.Target.ConnectionString ?? throw new ActionRefusedException($"Target '{request.Target.Key}' has no ConnectionString."));
        await connection.OpenAsync(cancellationToken);
        var sql = Statement(request);
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellationToken);
        return new ActionResult($"{sql} done on '{request.Target.Key}'.");
    }

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) =>
        throw new NotSupportedException("This SQL Server action cannot be undone.");

    /// <summary>A SQL Server instance by its start time.</summary>
    internal sealed record SqlServerInstance(DateTime StartedAt);
}

/// <summary><c>sqlserver.checkpoint</c>: runs CHECKPOINT.</summary>
public sealed class SqlServerCheckpointExecutor : SqlServerMaintenanceExecutor
{
    public override string Action => "sqlserver.checkpoint";

    public override string Describe(ActionRequest request) => $"Runs CHECKPOINT on '{request.Target.Key}'.";

    protected internal override string Statement(ActionRequest request) => SqlServerStatements.Checkpoint;
}

/// <summary><c>sqlserver.update-statistics</c>: updates the statistics of a table (<c>Table</c>) or of every table.</summary>
public sealed class SqlServerUpdateStatisticsExecutor : SqlServerMaintenanceExecutor
{
    public override string Action => "sqlserver.update-statistics";

    public override IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters) => DatabaseMaintenance.ValidateTable(parameters);

    public override string Describe(ActionRequest request) =>
        $"Updates statistics of {(request.Parameters.TryGetValue("Table", out var t) ? t : "every table")} on '{request.Target.Key}'.";

    protected internal override string Statement(ActionRequest request) => SqlServerStatements.UpdateStatistics(request.Parameters.GetValueOrDefault("Table"));
}
