using System.Globalization;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Verify;
using Microsoft.Data.SqlClient;

namespace Grace.Engine.Execute;

/// <summary>
/// SQL Server actions: <c>sqlserver.end-blockers</c> (head blockers from the DMVs, ended with KILL),
/// <c>sqlserver.checkpoint</c> and <c>sqlserver.update-statistics</c>. They run the statements of
/// <see cref="SqlServerStatements"/>; SQL Server cannot run on Grace's test machine, so these are
/// exercised as generated text only (the README lists what needs a real server). No rollback: a
/// killed session's transaction is rolled back by SQL Server, and maintenance loses nothing.
/// </summary>
public sealed class SqlServerExecutor(string action) : IRemediationExecutor
{
    public string Action => action;
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.SqlServer };
    public bool CanRollback => false;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        if (parameters.TryGetValue("Table", out var table) && !DatabaseMaintenanceExecutor.IsIdentifier(table))
        {
            yield return $"Parameters:Table '{table}' is not a plain table name.";
        }

        if (parameters.TryGetValue("MinBlockedSeconds", out var s) && (!double.TryParse(s, CultureInfo.InvariantCulture, out var v) || v < 0))
        {
            yield return "Parameters:MinBlockedSeconds must be a number of seconds, 0 or more.";
        }
    }

    public string Describe(ActionRequest request) => action switch
    {
        "sqlserver.end-blockers" => $"Ends (KILL) the SQL Server sessions on '{request.Target.Key}' that have blocked others for more than {MinSeconds(request)} s.",
        "sqlserver.checkpoint" => $"Runs CHECKPOINT on '{request.Target.Key}'.",
        _ => $"Updates statistics of {(request.Parameters.TryGetValue("Table", out var t) ? t : "every table")} on '{request.Target.Key}'.",
    };

    public async Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        if (action != "sqlserver.end-blockers")
        {
            return new SnapshotState("{}", "Maintenance: nothing to keep.", request.Target.Key);
        }

        var blockers = await HeadBlockersAsync(request, cancellationToken);
        return new SnapshotState(JsonSerializer.Serialize(blockers), blockers.Count == 0 ? "No head blocker beyond the threshold." : $"Head blockers: session {string.Join(", ", blockers)}.", request.Target.Key);
    }

    public async Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(request.Target.ConnectionString ?? throw new ActionRefusedException($"Target '{request.Target.Key}' has no ConnectionString."));
        await connection.OpenAsync(cancellationToken);
        if (action == "sqlserver.end-blockers")
        {
            var ended = new List<int>();
            foreach (var session in await HeadBlockersAsync(request, cancellationToken))
            {
                await using var kill = new SqlCommand(SqlServerStatements.Kill(session), connection);
                await kill.ExecuteNonQueryAsync(cancellationToken);
                ended.Add(session);
            }

            return new ActionResult(ended.Count == 0 ? "No blocking session was found to end." : $"Ended session {string.Join(", ", ended)}.");
        }

        var sql = action == "sqlserver.checkpoint" ? SqlServerStatements.Checkpoint : SqlServerStatements.UpdateStatistics(request.Parameters.GetValueOrDefault("Table"));
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellationToken);
        return new ActionResult($"{sql} done on '{request.Target.Key}'.");
    }

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) =>
        throw new NotSupportedException("This SQL Server action cannot be undone.");

    private static async Task<List<int>> HeadBlockersAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(request.Target.ConnectionString ?? throw new ActionRefusedException($"Target '{request.Target.Key}' has no ConnectionString."));
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand(SqlServerStatements.HeadBlockers, connection);
        command.Parameters.AddWithValue("@min_ms", (long)(MinSeconds(request) * 1000));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var sessions = new List<int>();
        while (await reader.ReadAsync(cancellationToken))
        {
            sessions.Add(Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture));
        }

        return sessions;
    }

    private static double MinSeconds(ActionRequest request) =>
        request.Parameters.TryGetValue("MinBlockedSeconds", out var s) ? double.Parse(s, CultureInfo.InvariantCulture) : 30;
}
