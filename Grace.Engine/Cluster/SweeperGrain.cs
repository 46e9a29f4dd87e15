using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Missions;
using Grace.Engine.Plan;
using Grace.Engine.Targets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Cluster;

/// <summary>
/// The cluster's one sweeper. Every few seconds it wakes what nothing else would: missions the
/// engine moves next (after a restart or a failover their grains are gone), approvals whose window
/// closed, finished missions not learned yet, incidents stored but not planned, incidents left
/// mitigating by a mission that ended, shadow recordings waiting for their verdict, and each
/// target's health check. Every instance keeps it
/// alive, so it moves to a survivor within one keep-alive of its instance's death.
/// </summary>
public interface ISweeperGrain : IGrainWithStringKey
{
    [AlwaysInterleave, OneWay]
    Task KeepSweepingAsync();

    /// <summary>One sweep now (tests, and the keeper at start).</summary>
    Task SweepAsync();
}

[GrainType(GraceGrainTypes.Sweeper)]
public sealed class SweeperGrain(
    IDbContextFactory<GraceDbContext> dbFactory,
    IOptionsMonitor<EngineOptions> options,
    IOptionsMonitor<CatalogOptions> catalog,
    PlanningService planning,
    Learn.LearnStage learn,
    Escalate.EscalationLadder ladder,
    Escalate.IncidentJournal incidentJournal,
    Learn.ShadowMode shadow,
    TimeProvider time,
    ILogger<SweeperGrain> logger) : Grain, ISweeperGrain
{
    public const string Key = "cluster";
    private const int Batch = 1000;
    private IGrainTimer? _timer;

    public Task KeepSweepingAsync()
    {
        if (_timer is null)
        {
            var every = TimeSpan.FromSeconds(options.CurrentValue.SweepIntervalSeconds);
            _timer = this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(TimeSpan.Zero, every) { KeepAlive = true });
        }

        return Task.CompletedTask;
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        try
        {
            await SweepAsync();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "The sweep failed; trying again in {Seconds} s", options.CurrentValue.SweepIntervalSeconds);
        }
    }

    public async Task SweepAsync()
    {
        var now = time.GetUtcNow();
        var planningGrace = now.AddSeconds(-2 * options.CurrentValue.SweepIntervalSeconds);
        List<Guid> missions, dueApprovals, unlearned, stranded, dueRungs;
        List<Mission> endedCovering;
        await using (var db = await dbFactory.CreateDbContextAsync())
        {
            missions = await db.Missions.AsNoTracking()
                .Where(m => MissionStates.EngineMoves.Contains(m.State))
                .OrderBy(m => m.UpdatedAt).Select(m => m.Id).Take(Batch).ToListAsync();
            // Their grains wait on a timer for the window to close; this closes it even if that timer was lost.
            dueApprovals = await db.Missions.AsNoTracking()
                .Where(m => m.State == MissionState.AwaitingApproval && m.Approval!.Status == ApprovalStatus.Pending && m.Approval.ExpiresAt <= now)
                .OrderBy(m => m.UpdatedAt).Select(m => m.Id).Take(Batch).ToListAsync();
            // Finished, but the host stopped between the two commits (or the grain was lost) before learning.
            unlearned = await db.Missions.AsNoTracking()
                .Where(m => m.CompletedAt != null && !db.Outcomes.Any(o => o.MissionId == m.Id))
                .OrderBy(m => m.CompletedAt).Select(m => m.Id).Take(Batch).ToListAsync();
            // Stored, then the instance stopped before planning them (the live path plans them within moments).
            // An incident that keeps firing is stranded too when its planning failed (its episode began a while ago), and
            // so is a rung the ladder marked (planned at once by the live path; this brings it back if that instance stopped).
            stranded = await db.Incidents.AsNoTracking()
                .Where(i => i.PlanPending && (i.LastSeenAt < planningGrace || i.OpenedAt < planningGrace || i.NextPlaybookKey != null))
                .OrderBy(i => i.LastSeenAt).Select(i => i.Id).Take(Batch).ToListAsync();
            // Escalation rungs due: a retry once the cooldown has passed (the wake the ladder set).
            dueRungs = await db.Incidents.AsNoTracking()
                .Where(i => i.RetryAt != null && i.RetryAt <= now && !i.PlanPending)
                .OrderBy(i => i.RetryAt).Select(i => i.Id).Take(100).ToListAsync();
            // Incidents still mitigating although the mission that covers them has ended.
            endedCovering = await db.MissionEvents.AsNoTracking()
                .Where(e => e.Kind == MissionPlanner.CoversEvent && e.IncidentId != null && e.At < planningGrace)
                .Join(db.Incidents.Where(i => i.Status == IncidentStatus.Mitigating), e => e.IncidentId, i => (Guid?)i.Id, (e, i) => e.MissionId)
                .Join(db.Missions.Where(m => MissionStates.Terminal.Contains(m.State)), id => id, m => m.Id, (id, m) => m)
                .Distinct().OrderBy(m => m.Id).Take(100).ToListAsync();
        }

        foreach (var id in missions.Concat(unlearned).Distinct())
        {
            GrainFactory.GetGrain<IMissionGrain>(id).WakeAsync(WakeReason.Sweep).Ignore();
        }

        foreach (var id in dueApprovals)
        {
            GrainFactory.GetGrain<IMissionGrain>(id).WakeAsync(WakeReason.Changed).Ignore();
        }

        foreach (var id in stranded)
        {
            planning.Enqueue(id);
        }

        foreach (var id in dueRungs)
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            var incident = await db.Incidents.SingleAsync(i => i.Id == id);
            if (incident.RetryAt is not { } at || at > now || incident.PlanPending)
            {
                continue; // Taken meanwhile.
            }

            var (plan, lines) = await ladder.RetryDueAsync(db, incident, CancellationToken.None);
            await db.SaveChangesAsync();
            incidentJournal.Publish(lines);
            if (plan)
            {
                planning.Enqueue(id);
            }
        }

        foreach (var mission in endedCovering)
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            await learn.SettleCoveredAsync(db, mission, CancellationToken.None);
            await db.SaveChangesAsync();
        }

        // Shadow recordings whose incident people have since acted on (or that healed alone) get their verdict.
        await shadow.JudgeAsync(CancellationToken.None);

        foreach (var (key, target) in catalog.CurrentValue.Targets)
        {
            if (target.HealthCheck is not null)
            {
                GrainFactory.GetGrain<ITargetGrain>(key).KeepCheckingAsync().Ignore();
            }
        }
    }
}
