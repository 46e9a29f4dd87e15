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
        if (await killSwitch.IsEngagedAsync(cancellationToken))
        {
            return new GateDecision(GateVerdict.Block, "The kill switch is engaged: no action runs until a Lead or Admin releases it.");
        }

        if (targets.Unconfigured(mission.Target) is { } unconfigured)
        {
            return new GateDecision(GateVerdict.Block, unconfigured);
        }

        var playbook = catalog.CurrentValue.Playbooks.GetValueOrDefault(mission.PlaybookKey);
        var cooldown = TimeSpan.FromSeconds(playbook?.CooldownSeconds ?? engine.DefaultCooldownSeconds);
        // A runbook past its first step was let through already: its cooldown and the hourly cap do not stop it half-way.
        var laterStep = mission.StepIndex > 0;
        // A runbook's cooldown is the playbook's, whichever targets its steps act on.
        var runbook = playbook?.IsRunbook == true;
        if (cooldown > TimeSpan.Zero && !laterStep)
        {
            var since = now - cooldown;
            var last = await db.Missions.AsNoTracking()
                .Where(m => m.Id != mission.Id && m.PlaybookKey == mission.PlaybookKey && (runbook || m.Target == mission.Target) && m.ExecutedAt != null && m.ExecutedAt > since)
                .OrderByDescending(m => m.ExecutedAt)
                .Select(m => m.ExecutedAt)
                .FirstOrDefaultAsync(cancellationToken);
            if (last is { } at)
            {
                return new GateDecision(GateVerdict.Block,
                    $"Cooldown: playbook '{mission.PlaybookKey}' ran on '{mission.Target}' at {at:u}; the next run is allowed after {at + cooldown:u}.");
            }
        }

        var hourAgo = now.AddHours(-1);
        var runsLastHour = await db.Missions.CountAsync(m => m.ExecutedAt != null && m.ExecutedAt > hourAgo, cancellationToken);
        if (runsLastHour >= engine.MaxRunsPerHour && !laterStep)
        {
            return new GateDecision(GateVerdict.Block, $"Hourly cap: {runsLastHour} actions ran in the last hour (Grace:Engine:MaxRunsPerHour = {engine.MaxRunsPerHour}).");
        }

        var states = beforeAction ? Acting : InFlight;
        var inFlight = await db.Missions.CountAsync(m => m.Id != mission.Id && m.Target == mission.Target && states.Contains(m.State), cancellationToken);
        if (inFlight >= engine.MaxConcurrentMissionsPerTarget)
        {
            return new GateDecision(GateVerdict.Defer, $"Target '{mission.Target}' already has {inFlight} mission(s) in flight; waiting for it to be free.");
        }

        var dryRun = engine.DryRun || mission.DryRun;
        return new GateDecision(GateVerdict.Proceed, dryRun ? "Policy allows it (dry run: the action will not run)." : "Policy allows it.", dryRun);
    }
}
