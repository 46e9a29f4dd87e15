using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Grace.Engine.Adapters.Grace;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
using Grace.Engine.Verify;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Events;

namespace Grace.Engine.Adapters.Logging;

/// <summary>The parameters of <c>logging.set-level</c>.</summary>
public sealed class SetLevelParameters
{
    /// <summary>A controlled log source (<c>Default</c>, <c>Grace</c>, a <c>Serilog:MinimumLevel:Override</c> key).</summary>
    [Required(ErrorMessage = "is required (a controlled log source such as 'Default' or 'Grace').")]
    public string Source { get; init; } = "";

    [Required(ErrorMessage = "is required (Verbose, Debug, Information, Warning, Error or Fatal).")]
    public LogEventLevel? Level { get; init; }

    /// <summary>After this long the previous level returns by itself.</summary>
    [Range(0.01, 1440, ErrorMessage = "must be a number of minutes between 0 and 1440.")]
    public double TtlMinutes { get; init; } = 15;
}

/// <summary>
/// <c>logging.set-level</c>: changes the level of one of Grace's log sources, for a time to live
/// after which the previous level returns by itself. An approval holds for the level the approvers
/// saw: changed by someone else since, the level to restore is not the one they agreed to.
/// </summary>
public sealed class SetLevelAction(LogLevelController levels) : RemediationAction<SetLevelParameters>
{
    public override string Action => "logging.set-level";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(GraceKind.Id);
    public override bool CanRollback => true;

    protected override IEnumerable<string> Check(SetLevelParameters parameters)
    {
        if (!levels.IsControlled(parameters.Source))
        {
            yield return $"Parameters:Source '{parameters.Source}' is not a controlled log source; controlled: {string.Join(", ", levels.Sources)}.";
        }
    }

    protected override string Describe(ActionRequest request, SetLevelParameters p) =>
        $"Sets log source '{p.Source}' to {p.Level} for {HumanFormat.Duration(p.TtlMinutes * 60)}, then restores it.";

    protected override Task<SnapshotState> SnapshotAsync(ActionRequest request, SetLevelParameters p, CancellationToken cancellationToken)
    {
        var level = levels.GetLevel(p.Source);
        var value = new LevelValue(p.Source, level);
        return Task.FromResult(Consent.Snapshot(JsonSerializer.Serialize(new LevelState(p.Source, level.ToString())), $"Log source '{p.Source}' is at {level}.", value, value.Describe()));
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<LevelValue>(approved) is { } was && Consent.Read<LevelValue>(current) is { } now
            ? $"log source '{now.Source}' was set to {now.Level} since the approvers saw it at {was.Level}"
            : Consent.Compare(approved, current);

    /// <summary>What changing a level depends on: the source's level now.</summary>
    internal sealed record LevelValue(string Source, LogEventLevel Level)
    {
        public string Describe() => $"log source '{Source}' at {Level}";
    }

    protected override Task<ActionResult> ExecuteAsync(ActionRequest request, SetLevelParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var previous = Enum.Parse<LogEventLevel>(JsonSerializer.Deserialize<LevelState>(snapshot.State)!.Level);
        var ttl = TimeSpan.FromMinutes(p.TtlMinutes);
        levels.SetLevel(p.Source, p.Level!.Value, ttl, previous);
        return Task.FromResult(new ActionResult($"Log source '{p.Source}' set from {previous} to {p.Level} for {HumanFormat.Duration(ttl)} from now."));
    }

    protected override Task<string> RollbackAsync(ActionRequest request, SetLevelParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var state = JsonSerializer.Deserialize<LevelState>(snapshot.State)!;
        levels.SetLevel(state.Source, Enum.Parse<LogEventLevel>(state.Level));
        return Task.FromResult($"Log source '{state.Source}' restored to {state.Level}.");
    }

    private sealed record LevelState(string Source, string Level);
}

/// <summary>The parameters of <c>logging.level</c>.</summary>
public sealed class LevelParameters
{
    [Required(ErrorMessage = "must name a controlled log source.")]
    public string Source { get; init; } = "";
}

/// <summary><c>logging.level</c>: the current level of one of Grace's log sources (0 Verbose … 5 Fatal).</summary>
public sealed class LevelProbe(LogLevelController levels) : Probe<LevelParameters>
{
    public override string Key => "logging.level";
    public override string Unit => "level";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(GraceKind.Id);

    protected override IEnumerable<string> Check(LevelParameters parameters)
    {
        if (!levels.IsControlled(parameters.Source))
        {
            yield return $"Parameters:Source must name a controlled log source ({string.Join(", ", levels.Sources)}).";
        }
    }

    protected override Task<double> ReadAsync(ProbeRequest request, LevelParameters p, CancellationToken cancellationToken) =>
        Task.FromResult((double)(int)levels.GetLevel(p.Source));
}

public static class LoggingExtensions
{
    /// <summary>Grace's own log levels: the controller of its level switches, the action and the probe.</summary>
    public static IServiceCollection AddLoggingActions(this IServiceCollection services)
    {
        services.AddSingleton<LogLevelController>();
        services.AddSingleton<IRemediationExecutor, SetLevelAction>();
        services.AddSingleton<IProbe, LevelProbe>();
        return services;
    }
}
