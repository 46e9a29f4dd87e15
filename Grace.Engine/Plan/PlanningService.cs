using System.Threading.Channels;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Targets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Plan;

/// <summary>
/// Plans the incidents capture marked as needing a mission, off the capture path (a baseline
/// probe may wait on a slow target): storm control, diagnosis, the playbook and target, then the
/// target's grain writes the mission. An incident whose planning fails, or whose instance stopped
/// before planning it, keeps its mark and the sweep hands it back here.
/// </summary>
public sealed class PlanningService(
    IDbContextFactory<GraceDbContext> dbFactory,
    IOptionsMonitor<EngineOptions> options,
    IOptionsMonitor<CatalogOptions> catalog,
    Sentinel sentinel,
    IGrainFactory grains,
    IMissionScheduler scheduler,
    Learn.Mining.PatternMiningService mining,
    TimeProvider time,
    ILogger<PlanningService> logger) : BackgroundService
{
    private const int Concurrency = 4;
    private readonly Channel<QueuedIncident> _queue = Channel.CreateUnbounded<QueuedIncident>(new UnboundedChannelOptions { SingleReader = false });
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, byte> _queued = new();

    /// <summary>Asks for an incident to be planned soon (at most once in the queue); it is read from the database first.</summary>
    public void Enqueue(Guid incidentId) => Enqueue(new QueuedIncident(incidentId, null));

    /// <summary>
    /// Asks for an incident capture just committed and marked to be planned soon, as capture committed
    /// it: planning does not read it back (ADR 0036). At most once in the queue.
    /// </summary>
    public void Enqueue(IncidentToPlan incident) => Enqueue(new QueuedIncident(incident.Id, incident));

    private void Enqueue(QueuedIncident item)
    {
        if (_queued.TryAdd(item.Id, 0))
        {
            _queue.Writer.TryWrite(item);
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => WorkAsync(stoppingToken)));

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var (id, captured) in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                _queued.TryRemove(id, out _);
                try
                {
                    await (captured is null ? PlanAsync(id, stoppingToken) : PlanAsync(captured, stoppingToken));
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // The incident keeps its mark; the sweep brings it back.
                    logger.LogWarning(ex, "Planning a mission for incident {IncidentId} failed; it will be tried again", id);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Plans one incident marked as needing a mission.</summary>
    public async Task PlanAsync(Guid incidentId, CancellationToken cancellationToken)
    {
        Incident? incident;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            incident = await db.Incidents.AsNoTracking().SingleOrDefaultAsync(i => i.Id == incidentId && i.PlanPending, cancellationToken);
        }

        if (incident is null)
        {
            return;
        }

        if (incident.Status == IncidentStatus.Resolved)
        {
            await ClearAsync(incidentId, cancellationToken); // It ended before anyone acted.
            return;
        }

        await PlanAsync(IncidentToPlan.Of(incident), cancellationToken);
    }

    /// <summary>
    /// Plans an incident marked as needing a mission, as its marking transaction committed it. Whether it
    /// is still marked and still open is decided where the mission is written (<see cref="MissionPlanner"/>).
    /// </summary>
    public async Task PlanAsync(IncidentToPlan incident, CancellationToken cancellationToken)
    {
        var incidentId = incident.Id;
        // A rung of the escalation ladder is bounded by the ladder itself; storm control counts first starts.
        var rung = incident.NextPlaybookKey;
        var signal = incident.ToSignal();
        var diagnosedFrom = time.GetUtcNow();
        var diagnosis = await sentinel.DiagnoseAsync(signal, cancellationToken);
        var playbookKey = diagnosis?.RankedPlaybooks.FirstOrDefault(k => catalog.CurrentValue.Playbooks.ContainsKey(k));
        if (diagnosis is null || playbookKey is null)
        {
            await ClearAsync(incidentId, cancellationToken); // No pattern: the incident stays open for humans.
            if (diagnosis is null)
            {
                // ...and its message goes to the miner, so a Lead sees what patterns are missing.
                mining.Enqueue(incidentId);
            }

            return;
        }

        // Storm control counts missions that would start, so it asks only now: an incident no pattern plans
        // starts nothing, and a burst of new unmatched errors (a bad deploy's) must not use up the minute's
        // starts and hold back the one mission that would heal something.
        if (rung is null && !await grains.GetGrain<IStormGrain>(StormGrain.Key).TryStartAsync(incident.Fingerprint))
        {
            // Said once per held-back start (only new or reopened incidents get here), so the open incident is explained.
            logger.LogWarning("Storm control held back a mission for incident {IncidentId} from {Source}: too many starts for its fingerprint within the hour "
                + "(Grace:Engine:MaxMissionStartsPerFingerprintPerHour = {PerHour}) or overall within the minute (Grace:Engine:MaxMissionStartsPerMinute = {PerMinute}); it stays open for people",
                incidentId, incident.Source, options.CurrentValue.MaxMissionStartsPerFingerprintPerHour, options.CurrentValue.MaxMissionStartsPerMinute);
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            await db.Incidents.Where(i => i.Id == incidentId && i.PlanPending)
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.PlanPending, false).SetProperty(i => i.HeldBackStarts, i => i.HeldBackStarts + 1), cancellationToken);
            return;
        }

        var reason = diagnosis.Reason;
        var origin = MissionOrigin.Signal;
        if (rung is not null && diagnosis.RankedPlaybooks.Contains(rung, StringComparer.OrdinalIgnoreCase) && catalog.CurrentValue.Playbooks.ContainsKey(rung))
        {
            playbookKey = rung;
            origin = MissionOrigin.Escalation;
            reason += $" Escalation rung: '{rung}'.";
        }

        var playbook = catalog.CurrentValue.Playbooks[playbookKey];
        var pattern = catalog.CurrentValue.Patterns[diagnosis.PatternKey];
        var target = !string.IsNullOrWhiteSpace(playbook.FirstTarget) ? playbook.FirstTarget : pattern.Target ?? signal.Target ?? "grace";
        var request = new PlanRequest(incidentId, diagnosis.PatternKey, playbookKey, target, reason, [.. diagnosis.RankedPlaybooks], incident.OpenedBy ?? Actor.EngineName, origin, DiagnosedFrom: diagnosedFrom);
        if (await grains.GetGrain<ITargetGrain>(target).PlanAsync(request) is { } missionId)
        {
            scheduler.Enqueue(missionId);
        }
    }

    private async Task ClearAsync(Guid incidentId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        await db.Incidents.Where(i => i.Id == incidentId).ExecuteUpdateAsync(s => s.SetProperty(i => i.PlanPending, false).SetProperty(i => i.NextPlaybookKey, (string?)null), cancellationToken);
    }

    /// <summary>
    /// A person's "run now": the chosen candidate playbook of the incident's pattern, planned on its
    /// target's grain like any mission (the same policy, tier and approvals follow), requested by the
    /// person, optionally as a dry run. Returns the new mission's id, or null when another mission
    /// already runs that playbook on that target (it covers the incident).
    /// </summary>
    public async Task<Guid?> PlanForPersonAsync(Incident incident, string patternKey, string playbookKey, string requestedBy, bool dryRun, CancellationToken cancellationToken)
    {
        var playbook = catalog.CurrentValue.Playbooks[playbookKey];
        var pattern = catalog.CurrentValue.Patterns[patternKey];
        var target = !string.IsNullOrWhiteSpace(playbook.FirstTarget) ? playbook.FirstTarget : pattern.Target ?? incident.Target ?? "grace";
        var request = new PlanRequest(incident.Id, patternKey, playbookKey, target,
            $"{requestedBy} chose playbook '{playbookKey}' of pattern '{patternKey}' on the incident page" + (dryRun ? " (dry run first)." : "."),
            [.. pattern.Playbooks], requestedBy, MissionOrigin.Person, dryRun);
        var missionId = await grains.GetGrain<ITargetGrain>(target).PlanAsync(request);
        if (missionId is { } id)
        {
            scheduler.Enqueue(id);
        }

        return missionId;
    }

    /// <summary>The incident as the signal that opened it, for diagnosis (patterns match source, type, message, template, labels).</summary>
    internal static Signal SignalOf(Incident incident) => IncidentToPlan.Of(incident).ToSignal();

    /// <summary>An incident waiting to be planned: by id (read first), or as capture committed it.</summary>
    private readonly record struct QueuedIncident(Guid Id, IncidentToPlan? Captured);
}
