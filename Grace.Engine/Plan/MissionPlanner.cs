using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Grace.Engine.Execute;
using Grace.Engine.Missions;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Plan;

/// <summary>
/// Writes a mission and its action contract (probe, comparator, threshold, deadline) before
/// anything runs, with the probe's reading now as the baseline.
/// </summary>
public sealed class MissionPlanner(
    IOptionsMonitor<CatalogOptions> catalog,
    IDbContextFactory<GraceDbContext> dbFactory,
    TargetRegistry targets,
    ExecutorCatalog executors,
    ActionResilience resilience,
    MissionJournal journal,
    Gate.PlaybookTiers tiers,
    TimeProvider time,
    ILogger<MissionPlanner> logger)
{
    /// <summary>Creates the mission for an incident, unless one is already under way. Returns its id.</summary>
    public async Task<Guid?> PlanAsync(Guid incidentId, Signal signal, Diagnosis diagnosis, CancellationToken cancellationToken)
    {
        var playbookKey = diagnosis.RankedPlaybooks.FirstOrDefault(k => catalog.CurrentValue.Playbooks.ContainsKey(k));
        if (playbookKey is null)
        {
            return null;
        }

        var playbook = catalog.CurrentValue.Playbooks[playbookKey];
        var pattern = catalog.CurrentValue.Patterns[diagnosis.PatternKey];
        var targetKey = !string.IsNullOrWhiteSpace(playbook.Target) ? playbook.Target : pattern.Target ?? signal.Target ?? "grace";
        var contractOptions = playbook.Contract!;
        var contractTarget = contractOptions.Target ?? targetKey;
        var probe = executors.Probe(contractOptions.Probe);

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        // One fault often raises several incidents (a crash, then its failing health check). A mission
        // already under way for this incident, or running the same playbook on the same target, covers it.
        var underWay = await db.Missions.AsNoTracking()
            .Where(m => m.State != MissionState.Succeeded && m.State != MissionState.RolledBack && m.State != MissionState.Failed
                && m.State != MissionState.Rejected && m.State != MissionState.Expired && m.State != MissionState.Blocked
                && m.State != MissionState.DryRunCompleted)
            .Where(m => m.IncidentId == incidentId || (m.PlaybookKey == playbookKey && m.Target == targetKey))
            .Select(m => new { m.Id, m.IncidentId })
            .FirstOrDefaultAsync(cancellationToken);
        if (underWay is not null)
        {
            if (underWay.IncidentId != incidentId)
            {
                await CoverAsync(db, incidentId, underWay.Id, diagnosis, playbookKey, targetKey, cancellationToken);
            }

            return null;
        }

        var incident = await db.Incidents.SingleAsync(i => i.Id == incidentId, cancellationToken);
        var tier = await tiers.TierOfAsync(db, playbookKey, cancellationToken);
        var now = time.GetUtcNow();
        var mission = new Mission
        {
            Id = Guid.CreateVersion7(now),
            IncidentId = incidentId,
            PatternKey = diagnosis.PatternKey,
            PlaybookKey = playbookKey,
            Action = playbook.Action,
            Target = targetKey,
            Parameters = JsonSerializer.Serialize(playbook.Parameters),
            Tier = tier,
            DryRun = playbook.DryRun,
            State = MissionState.Planned,
            Stage = PipelineStage.Plan,
            RequestedBy = signal.ReportedBy ?? Actor.EngineName,
            CreatedAt = now,
            UpdatedAt = now,
        };
        var contract = new ActionContract
        {
            Id = Guid.CreateVersion7(now),
            MissionId = mission.Id,
            Probe = probe.Key,
            Target = contractTarget,
            ProbeParameters = JsonSerializer.Serialize(contractOptions.Parameters),
            Comparator = contractOptions.Comparator,
            Threshold = contractOptions.Threshold,
            DeadlineSeconds = contractOptions.DeadlineSeconds,
            Description = $"{probe.Key} of {contractTarget} {ContractVerifier.Symbol(contractOptions.Comparator)} {contractOptions.Threshold:G} {probe.Unit} within {contractOptions.DeadlineSeconds} s of the action",
        };

        try
        {
            contract.BaselineValue = await resilience.ForProbe(contractTarget).ExecuteAsync(
                ct => new ValueTask<double>(probe.ReadAsync(new ProbeRequest(targets.Resolve(contractTarget), contractOptions.Parameters, incidentId), ct)),
                cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Baseline reading of {Probe} on {Target} failed", probe.Key, contractTarget);
        }

        mission.Contract = contract;
        incident.PatternKey = diagnosis.PatternKey;
        incident.Status = IncidentStatus.Mitigating;
        db.Missions.Add(mission);
        var entry = journal.Begin(db, mission);
        entry.Record(PipelineStage.Diagnose, "diagnosed", diagnosis.Reason, data: new { diagnosis.PatternKey, diagnosis.RankedPlaybooks, fingerprint = incident.Fingerprint });
        entry.Record(PipelineStage.Plan, "planned",
            $"Playbook '{playbookKey}' ({playbook.Action} on {targetKey}, tier {tier}). Contract: {contract.Description}."
            + (contract.BaselineValue is { } b ? $" Baseline {b:G} {probe.Unit}." : " Baseline unavailable."),
            MissionState.Planned, new { contract.Probe, contract.Comparator, contract.Threshold, contract.DeadlineSeconds, contract.BaselineValue });
        await entry.SaveAsync(cancellationToken);
        return mission.Id;
    }

    /// <summary>The kind of the timeline line that names an incident a mission covers besides its own.</summary>
    public const string CoversEvent = "covers";

    /// <summary>
    /// Joins an incident to the mission that already runs its playbook on its target: the incident is
    /// mitigating, and the mission's end settles it too (resolved on success, open again otherwise).
    /// Only an event is appended, so the mission's row (and its concurrency token) is left to the runner.
    /// </summary>
    private async Task CoverAsync(GraceDbContext db, Guid incidentId, Guid missionId, Diagnosis diagnosis, string playbookKey, string targetKey, CancellationToken cancellationToken)
    {
        var incident = await db.Incidents.SingleAsync(i => i.Id == incidentId, cancellationToken);
        incident.PatternKey = diagnosis.PatternKey;
        incident.Status = IncidentStatus.Mitigating;
        db.MissionEvents.Add(new MissionEvent
        {
            MissionId = missionId,
            Stage = PipelineStage.Diagnose,
            Kind = CoversEvent,
            At = time.GetUtcNow(),
            Actor = Actor.EngineName,
            Message = $"Incident from {incident.Source} ('{Truncate(incident.SampleMessage, 160)}') matched pattern '{diagnosis.PatternKey}', whose playbook '{playbookKey}' this mission already runs on '{targetKey}': the mission covers it.",
            Data = JsonSerializer.Serialize(new { incidentId }),
        });
        await db.SaveChangesAsync(cancellationToken);
        logger.LogInformation("Incident {Incident} is covered by mission {Mission}, already running playbook {Playbook} on {Target}", incidentId, missionId, playbookKey, targetKey);
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";
}
