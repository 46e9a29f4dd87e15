using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace Grace.Engine.Learn;

/// <summary>
/// The last step of every mission: its outcome is learned once, and the incidents it covered end
/// with it (resolved when it succeeded, open again otherwise).
/// </summary>
public sealed class LearnStage(
    IDbContextFactory<GraceDbContext> dbFactory,
    LearningService learning,
    TrustService trust,
    MissionJournal journal,
    Escalate.EscalationLadder ladder,
    Escalate.IncidentJournal incidentJournal,
    IServiceProvider services,
    TimeProvider time,
    ILogger<LearnStage> logger,
    Telemetry.GraceMetrics? metrics = null)
{
    public async Task<StepOutcome> LearnAsync(Guid missionId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (await MissionStore.LoadAsync(db, missionId, cancellationToken) is not { } mission || !mission.State.IsTerminal())
        {
            return StepOutcome.Moved;
        }

        var (recorded, update) = await learning.RecordAsync(db, mission, cancellationToken);
        if (!recorded)
        {
            return StepOutcome.Finished;
        }

        // One line per finished mission, so the console log alone tells what Grace did.
        logger.LogInformation("Mission {MissionId} ({Playbook} on {Target}, tier {Tier}) ended {State}{Reason}",
            mission.Id, mission.PlaybookKey, mission.Target, mission.Tier, mission.State, mission.StatusReason is { Length: > 0 } r ? $": {r}" : "");

        if (mission.State != MissionState.Succeeded && mission.Incident is { Status: IncidentStatus.Mitigating } incident)
        {
            incident.Status = IncidentStatus.Open;
        }

        // Trust decay is decided with the outcome, in the same transaction: a lowered tier goes back up at once.
        var revoked = update is null ? null : await trust.DecayAsync(db, mission, cancellationToken);
        await SettleCoveredAsync(db, mission, cancellationToken);
        // The escalation decision is made where the mission ends, in the same transaction as its outcome: climbed once.
        var (step, lines) = await ladder.OnMissionEndedAsync(db, mission, cancellationToken);
        var entry = journal.Begin(db, mission);
        entry.Record(PipelineStage.Learn, "learned", update is null
            ? mission.ExecutedAt is not null && mission.ContractAtPlan == ContractPrecheck.AlreadyHeld
                ? $"Outcome recorded: {mission.State}. The contract held before the action, so it proves nothing: the playbook's statistics are unchanged."
                : $"Outcome recorded: {mission.State}. Nothing ran, so the playbook's statistics are unchanged."
            : $"Outcome recorded: {mission.State}. Playbook '{mission.PlaybookKey}' on pattern '{mission.PatternKey}': {update.Runs} runs, {update.SuccessRate:P0} success, confidence {update.Confidence:P0}.");
        if (revoked is not null)
        {
            entry.Record(PipelineStage.Learn, "trust-revoked", revoked, data: new { playbook = mission.PlaybookKey });
        }

        if (step != Escalate.EscalationStep.None)
        {
            // The rung on the mission's timeline too, linking it to what comes next for its incident.
            entry.Record(PipelineStage.Learn, "escalated", lines[^1].Message, data: new { incidentId = mission.IncidentId, rung = step.ToString() });
        }
        try
        {
            await entry.SaveAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (DatabaseErrors.IsUniqueViolation(ex))
        {
            return StepOutcome.Finished; // Learned by another activation in the same instant.
        }

        learning.Publish(update);
        incidentJournal.Publish(lines);
        if (db.Outcomes.Local.FirstOrDefault(o => o.MissionId == mission.Id) is { TimeToRecoverSeconds: { } recovered })
        {
            metrics?.Recovered(recovered, mission.PlaybookKey, mission.PatternKey);
        }
        if (update is not null)
        {
            await RefreshSuggestionAsync(mission.PlaybookKey, cancellationToken);
        }

        if (step == Escalate.EscalationStep.NextPlaybook)
        {
            // Resolved lazily: the planning service reaches the target grains, which reach this stage.
            (services.GetService(typeof(Plan.PlanningService)) as Plan.PlanningService)?.Enqueue(mission.IncidentId);
        }

        return StepOutcome.Finished;
    }

    /// <summary>
    /// The playbook's tier suggestion, from its record including the outcome just committed. Its own
    /// unit of work: a failure here loses nothing (the next outcome or shadow verdict refreshes it).
    /// </summary>
    private async Task RefreshSuggestionAsync(string playbookKey, CancellationToken cancellationToken)
    {
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            await trust.RefreshAsync(db, playbookKey, cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex)
        {
            logger.LogWarning(ex, "The tier suggestion of playbook {Playbook} could not be refreshed; the next outcome will", playbookKey);
        }
    }

    /// <summary>
    /// Incidents joined to a mission end with it. Idempotent: an incident is settled only while it
    /// is still mitigating, so the mission's end and a late cover may both call it.
    /// </summary>
    public async Task SettleCoveredAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        var covered = await db.MissionEvents.AsNoTracking()
            .Where(e => e.MissionId == mission.Id && e.Kind == Plan.MissionPlanner.CoversEvent)
            .Select(e => new { e.IncidentId, e.Data })
            .ToListAsync(cancellationToken);
        // Lines written before the link had its own column carry it only in their JSON.
        var ids = covered.Select(c => c.IncidentId ?? JsonDocument.Parse(c.Data!).RootElement.GetProperty("incidentId").GetGuid()).ToList();
        if (ids.Count == 0)
        {
            return;
        }

        var now = time.GetUtcNow();
        foreach (var incident in await db.Incidents.Where(i => ids.Contains(i.Id) && i.Status == IncidentStatus.Mitigating).ToListAsync(cancellationToken))
        {
            incident.Status = mission.State == MissionState.Succeeded ? IncidentStatus.Resolved : IncidentStatus.Open;
            incident.ResolvedAt = mission.State == MissionState.Succeeded ? now : null;
        }
    }
}
