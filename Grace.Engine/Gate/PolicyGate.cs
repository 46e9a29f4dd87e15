using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Gate;

/// <summary>What the gate decided for a mission.</summary>
public enum GateVerdict
{
    /// <summary>Policy allows the action (the tier still applies).</summary>
    Proceed,
    /// <summary>Not now (the target is busy); the mission waits and is tried again.</summary>
    Defer,
    /// <summary>Policy refuses the action; the mission ends.</summary>
    Block,
}

public sealed record GateDecision(GateVerdict Verdict, string Reason, bool DryRun = false);

/// <summary>
/// Policy before any action: the kill switch, a target left unconfigured, one playbook's cooldown
/// on one target, the cap on runs per hour, missions in flight per target, and dry-run.
/// </summary>
public sealed class PolicyGate(KillSwitch killSwitch, IOptionsMonitor<EngineOptions> options, IOptionsMonitor<CatalogOptions> catalog, Targets.TargetRegistry targets, TimeProvider time)
{
    private static readonly MissionState[] InFlight = MissionStates.InFlight;
    private static readonly MissionState[] Acting = MissionStates.Acting;

    /// <summary>
    /// Evaluates policy for a mission. With <paramref name="beforeAction"/>, only missions that are
    /// executing or verifying count as in flight (approved ones wait their turn, they do not block
    /// each other).
    /// </summary>
    public async Task<GateDecision> EvaluateAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken, bool beforeAction = false)
    {
        var engine = options.CurrentValue;
        var now = time.GetUtcNow();
        var playbook = catalog.CurrentValue.Playbooks.GetValueOrDefault(mission.PlaybookKey);
        var cooldown = TimeSpan.FromSeconds(playbook?.CooldownSeconds ?? engine.DefaultCooldownSeconds);
        // A runbook past its first step was let through already: its cooldown and the hourly cap do not stop it half-way.
        var laterStep = mission.StepIndex > 0;
        var figures = await FiguresAsync(db, mission, playbook?.IsRunbook == true, cooldown > TimeSpan.Zero && !laterStep, now - cooldown, now.AddHours(-1),
            beforeAction ? Acting : InFlight, cancellationToken);

        if (killSwitch.Engaged(figures.KillSwitch))
        {
            return new GateDecision(GateVerdict.Block, "The kill switch is engaged: no action runs until a Lead or Admin releases it.");
        }

        if (targets.Unconfigured(mission.Target) is { } unconfigured)
        {
            return new GateDecision(GateVerdict.Block, unconfigured);
        }

        if (figures.LastRunInCooldown is { } at)
        {
            return new GateDecision(GateVerdict.Block,
                $"Cooldown: playbook '{mission.PlaybookKey}' ran on '{mission.Target}' at {at:u}; the next run is allowed after {at + cooldown:u}.");
        }

        if (figures.RunsLastHour >= engine.MaxRunsPerHour && !laterStep)
        {
            return new GateDecision(GateVerdict.Block, $"Hourly cap: {figures.RunsLastHour} actions ran in the last hour (Grace:Engine:MaxRunsPerHour = {engine.MaxRunsPerHour}).");
        }

        if (figures.InFlight >= engine.MaxConcurrentMissionsPerTarget)
        {
            return new GateDecision(GateVerdict.Defer, $"Target '{mission.Target}' already has {figures.InFlight} mission(s) in flight; waiting for it to be free.");
        }

        var dryRun = engine.DryRun || mission.DryRun;
        return new GateDecision(GateVerdict.Proceed, dryRun ? "Policy allows it (dry run: the action will not run)." : "Policy allows it.", dryRun);
    }

    /// <summary>What policy counts, read in one round trip (the kill switch as stored: null when never set).</summary>
    private sealed record PolicyFigures(string? KillSwitch, DateTimeOffset? LastRunInCooldown, int RunsLastHour, int InFlight);

    /// <summary>
    /// The kill switch's stored value, the last run of this playbook within its cooldown, the runs in
    /// the last hour and the missions in flight on the target, as scalar subqueries of one statement:
    /// one round trip on the way to every action instead of four (ADR 0029, "One policy query").
    /// Each subquery is the one policy made on its own before, with the same conditions. The caller
    /// reads the target's fence before this, so a concurrent intent still fails its commit.
    /// </summary>
    private static async Task<PolicyFigures> FiguresAsync(GraceDbContext db, Mission mission, bool runbook, bool checkCooldown, DateTimeOffset since, DateTimeOffset hourAgo,
        MissionState[] states, CancellationToken cancellationToken)
    {
        var id = mission.Id;
        var playbookKey = mission.PlaybookKey;
        var target = mission.Target;
        // The subqueries need one row to hang on: the mission's own (it is stored before any gate). A
        // mission not stored yet takes any other row; with no mission stored at all, nothing ran and
        // nothing is in flight.
        IQueryable<PolicyFigures> Figures(IQueryable<Mission> oneRow) => oneRow.Select(_ => new PolicyFigures(
            db.EngineSettings.Where(s => s.Key == Gate.KillSwitch.SettingKey).Select(s => s.Value).FirstOrDefault(),
            db.Missions.Where(m => checkCooldown && m.Id != id && m.PlaybookKey == playbookKey && (runbook || m.Target == target) && m.ExecutedAt != null && m.ExecutedAt > since)
                .OrderByDescending(m => m.ExecutedAt).Select(m => m.ExecutedAt).FirstOrDefault(),
            db.Missions.Count(m => m.ExecutedAt != null && m.ExecutedAt > hourAgo),
            db.Missions.Count(m => m.Id != id && m.Target == target && states.Contains(m.State))));

        return await Figures(db.Missions.Where(m => m.Id == id)).SingleOrDefaultAsync(cancellationToken)
            ?? await Figures(db.Missions.Take(1)).FirstOrDefaultAsync(cancellationToken)
            ?? new PolicyFigures(await db.EngineSettings.Where(s => s.Key == Gate.KillSwitch.SettingKey).Select(s => s.Value).FirstOrDefaultAsync(cancellationToken), null, 0, 0);
    }
}
