using System.Globalization;
using System.Text.Json;
using System.ComponentModel.DataAnnotations;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Verify;
using Npgsql;

namespace Grace.Engine.Adapters.Postgres;

/// <summary>
/// <c>postgres.end-blockers</c>: finds the sessions at the head of lock chains that have kept others
/// waiting longer than <c>MinBlockedSeconds</c> (default 30) and ends them with
/// <c>pg_terminate_backend</c>. PostgreSQL rolls their open transactions back; that cannot be
/// undone, so there is no rollback. The snapshot records who was ended, never the connection string.
/// An approval holds for the blocking sessions the approvers saw, each known by its pid and the
/// time its backend started (a pid is reused): a blocker gone or a new one voids it, and the action
/// ends only sessions of the snapshot that still block.
/// </summary>
public sealed class PostgresLockExecutor : RemediationAction<EndBlockersParameters>
{
    internal const string HeadBlockersSql = """
        SELECT DISTINCT b.pid, coalesce(b.usename, '') AS usename, coalesce(b.application_name, '') AS application,
               coalesce(left(b.query, 200), '') AS query, extract(epoch FROM now() - coalesce(b.xact_start, b.backend_start))::float8 AS xact_seconds,
               b.backend_start
        FROM pg_stat_activity w
        CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid)
        JOIN pg_stat_activity b ON b.pid = blocker.pid
        WHERE w.wait_event_type = 'Lock'
          AND now() - coalesce(w.query_start, w.backend_start) > make_interval(secs => @min_seconds)
          AND cardinality(pg_blocking_pids(b.pid)) = 0
          AND b.pid <> pg_backend_pid()
        """;

    public override string Action => "postgres.end-blockers";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(PostgresKind.Id);
    public override bool CanRollback => false;

    protected override string Describe(ActionRequest request, EndBlockersParameters p) =>
        $"Ends the PostgreSQL sessions on '{request.Target.Key}' that have blocked others for more than {p.MinBlockedSeconds} s; their open transactions roll back.";

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, EndBlockersParameters p, CancellationToken cancellationToken)
    {
        var blockers = await HeadBlockersAsync(request.Target.Settings<PostgresTarget>().ConnectionString, p.MinBlockedSeconds, cancellationToken);
        var summary = blockers.Count == 0
            ? "No session blocks others beyond the threshold."
            : string.Join("; ", blockers.Select(b => $"pid {b.Pid} ({b.User}, {b.Application}) in a transaction for {b.Seconds:0} s: {b.Query}"));
        var sessions = new BlockingSessions([.. blockers.Select(b => b.Identity).Distinct().OrderBy(s => s.Pid).ThenBy(s => s.Started)]);
        return Consent.Snapshot(JsonSerializer.Serialize(blockers), summary, sessions, Describe(blockers));
    }

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, EndBlockersParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        // Only sessions of the snapshot are ended, and only if the same backend (pid and start) still blocks:
        // a session that finished meanwhile is left alone, and so is one that started blocking after the snapshot.
        var snapshotted = (JsonSerializer.Deserialize<List<Blocker>>(snapshot.State) ?? []).Select(b => b.Identity).ToHashSet();
        var connectionString = request.Target.Settings<PostgresTarget>().ConnectionString;
        var blockers = await HeadBlockersAsync(connectionString, p.MinBlockedSeconds, cancellationToken);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var ended = new List<int>();
        var spared = 0;
        foreach (var blocker in blockers)
        {
            if (!snapshotted.Contains(blocker.Identity))
            {
                spared++;
                continue;
            }

            await using var command = new NpgsqlCommand(TerminateSql, connection);
            command.Parameters.AddWithValue("pid", blocker.Pid);
            command.Parameters.AddWithValue("started", blocker.BackendStart);
            if (await command.ExecuteScalarAsync(cancellationToken) is true)
            {
                ended.Add(blocker.Pid);
            }
        }

        return new ActionResult((ended.Count == 0 ? "No blocking session was found to end." : $"Ended {ended.Count} blocking session(s): pid {string.Join(", ", ended)}.")
                + (spared > 0 ? $" Left {spared} session(s) that began blocking after the snapshot." : ""),
            JsonSerializer.Serialize(new { ended, spared }));
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current)
    {
        List<Blocker> Read(SnapshotState s)
        {
            try
            {
                return JsonSerializer.Deserialize<List<Blocker>>(s.State) ?? [];
            }
            catch (JsonException)
            {
                return [];
            }
        }

        var (was, now) = (Read(approved), Read(current));
        var gone = was.Where(b => !now.Any(n => n.Identity == b.Identity)).Select(b => b.Label).ToList();
        var fresh = now.Where(n => !was.Any(b => b.Identity == n.Identity)).Select(b => b.Label).ToList();
        var parts = new List<string>();
        if (gone.Count > 0)
        {
            parts.Add($"no longer blocking: {Consent.Names(gone)}");
        }

        if (fresh.Count > 0)
        {
            parts.Add($"now blocking: {Consent.Names(fresh)}");
        }

        return parts.Count == 0 ? Consent.Compare(approved, current) : $"{string.Join("; ", parts)} (approved against: {approved.ApprovedAgainst ?? approved.Summary})";
    }

    private static string Describe(List<Blocker> blockers) => blockers.Count == 0
        ? "no blocking session"
        : $"{blockers.Count} blocking session(s): {Consent.Names(blockers.Select(b => b.Label).ToList())}";

    // The same backend or nothing: a pid ended and reused meanwhile is another session, which nobody approved ending.
    private const string TerminateSql = "SELECT coalesce((SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = @pid AND backend_start = @started), false)";

    internal static async Task<List<Blocker>> HeadBlockersAsync(string connectionString, double minSeconds, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(HeadBlockersSql, connection);
        command.Parameters.AddWithValue("min_seconds", minSeconds);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var blockers = new List<Blocker>();
        while (await reader.ReadAsync(cancellationToken))
        {
            blockers.Add(new Blocker(reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetDouble(4),
                reader.GetFieldValue<DateTimeOffset>(5)));
        }

        return blockers;
    }

    internal sealed record Blocker(int Pid, string User, string Application, string Query, double Seconds, DateTimeOffset BackendStart = default)
    {
        [System.Text.Json.Serialization.JsonIgnore]
        public SessionIdentity Identity => new(Pid, BackendStart);

        [System.Text.Json.Serialization.JsonIgnore]
        public string Label => $"pid {Pid} ({(Application.Length > 0 ? Application : User)}, since {BackendStart.UtcDateTime:HH:mm:ss}Z)";
    }

    /// <summary>A PostgreSQL session: its pid, and when its backend started (pids are reused).</summary>
    internal sealed record SessionIdentity(int Pid, DateTimeOffset Started);

    /// <summary>What ending blockers depends on: the set of sessions that block others, as the approvers saw it.</summary>
    internal sealed record BlockingSessions(IReadOnlyList<SessionIdentity> Sessions);
}

/// <summary><c>postgres.blocked-sessions</c>: sessions waiting on a lock for longer than <c>MinBlockedSeconds</c> (default 0).</summary>
public sealed class PostgresBlockedSessionsProbe : Probe<BlockedSessionsParameters>
{
    public override string Key => "postgres.blocked-sessions";
    public override string Unit => "sessions";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(PostgresKind.Id);

    protected override async Task<double> ReadAsync(ProbeRequest request, BlockedSessionsParameters p, CancellationToken cancellationToken)
    {
        var min = p.MinBlockedSeconds;
        await using var connection = new NpgsqlConnection(request.Target.Settings<PostgresTarget>().ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND now() - coalesce(query_start, backend_start) > make_interval(secs => @min)", connection);
        command.Parameters.AddWithValue("min", min);
        return Convert.ToDouble(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }
}

/// <summary>The parameters of <c>postgres.blocked-sessions</c>.</summary>
public sealed class BlockedSessionsParameters
{
    /// <summary>Only sessions waiting longer than this count (default 0: every waiting session).</summary>
    [Range(0, 86_400, ErrorMessage = "must be a number of seconds, 0 or more.")]
    public double MinBlockedSeconds { get; init; }
}
