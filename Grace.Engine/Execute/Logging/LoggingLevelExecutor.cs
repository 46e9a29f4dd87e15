using System.Text.Json;
using Grace.Engine.Configuration;
using Serilog.Events;

namespace Grace.Engine.Execute.Logging;

/// <summary>
/// <c>logging.set-level</c>: changes the level of one of Grace's log sources, for a time to live
/// (<c>TtlMinutes</c>, default 15) after which the previous level returns by itself.
/// Parameters: <c>Source</c>, <c>Level</c>, <c>TtlMinutes</c>. An approval holds for the level the
/// approvers saw: changed by someone else since, the level to restore is not the one they agreed to.
/// </summary>
public sealed class LoggingLevelExecutor(LogLevelController levels) : IRemediationExecutor
{
    public string Action => "logging.set-level";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Grace };
    public bool CanRollback => true;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        if (!parameters.TryGetValue("Source", out var source) || string.IsNullOrWhiteSpace(source))
        {
            yield return "Parameters:Source is required (a controlled log source such as 'Default' or 'Grace').";
        }
        else if (!levels.IsControlled(source))
        {
            yield return $"Parameters:Source '{source}' is not a controlled log source; controlled: {string.Join(", ", levels.Sources)}.";
        }

        if (!parameters.TryGetValue("Level", out var level) || !Enum.TryParse<LogEventLevel>(level, true, out _))
        {
            yield return $"Parameters:Level must be one of {string.Join(", ", Enum.GetNames<LogEventLevel>())}.";
        }

        if (parameters.TryGetValue("TtlMinutes", out var ttl) && (!double.TryParse(ttl, System.Globalization.CultureInfo.InvariantCulture, out var minutes) || minutes <= 0 || minutes > 1440))
        {
            yield return "Parameters:TtlMinutes must be a number of minutes between 0 and 1440.";
        }
    }

    public string Describe(ActionRequest request) =>
        $"Sets log source '{request.Parameters["Source"]}' to {request.Parameters["Level"]} for {Ttl(request).TotalMinutes:0.#} min, then restores it.";

    public Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var source = request.Parameters["Source"];
        var level = levels.GetLevel(source);
        var state = JsonSerializer.Serialize(new LevelState(source, level.ToString()));
        var value = new LevelValue(source, level);
        return Task.FromResult(Consent.Snapshot(state, $"Log source '{source}' is at {level}.", value, value.Describe()));
    }

    public string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<LevelValue>(approved) is { } was && Consent.Read<LevelValue>(current) is { } now
            ? $"log source '{now.Source}' was set to {now.Level} since the approvers saw it at {was.Level}"
            : Consent.Compare(approved, current);

    /// <summary>What changing a level depends on: the source's level now.</summary>
    internal sealed record LevelValue(string Source, LogEventLevel Level)
    {
        public string Describe() => $"log source '{Source}' at {Level}";
    }

    public Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var source = request.Parameters["Source"];
        var level = Enum.Parse<LogEventLevel>(request.Parameters["Level"], true);
        var previous = Enum.Parse<LogEventLevel>(JsonSerializer.Deserialize<LevelState>(snapshot.State)!.Level);
        var ttl = Ttl(request);
        levels.SetLevel(source, level, ttl, previous);
        return Task.FromResult(new ActionResult($"Log source '{source}' set from {previous} to {level} until {ttl.TotalMinutes:0.#} min from now."));
    }

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var state = JsonSerializer.Deserialize<LevelState>(snapshot.State)!;
        levels.SetLevel(state.Source, Enum.Parse<LogEventLevel>(state.Level));
        return Task.FromResult($"Log source '{state.Source}' restored to {state.Level}.");
    }

    private static TimeSpan Ttl(ActionRequest request) =>
        TimeSpan.FromMinutes(request.Parameters.TryGetValue("TtlMinutes", out var t) ? double.Parse(t, System.Globalization.CultureInfo.InvariantCulture) : 15);

    private sealed record LevelState(string Source, string Level);
}
