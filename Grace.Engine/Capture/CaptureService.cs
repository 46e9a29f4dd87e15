using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Grace.Engine.Gate;
using Grace.Engine.Notifications;
using Grace.Engine.Plan;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace Grace.Engine.Capture;

/// <summary>
/// Drains the intake in batches: folds repeats of a fingerprint into one incident (count, last
/// seen, sample), reopens a resolved incident that recurs, and starts a mission only for a new or
/// reopened incident, so a storm of repeats never spawns a storm of missions.
/// </summary>
public sealed class CaptureService(
    SignalIntake intake,
    IDbContextFactory<GraceDbContext> dbFactory,
    IOptionsMonitor<EngineOptions> options,
    Sentinel sentinel,
    MissionPlanner planner,
    IMissionScheduler scheduler,
    SignalRateTracker rates,
    StormGuard storms,
    IPipelineNotifier notifier,
    TimeProvider time,
    ILogger<CaptureService> logger) : BackgroundService
{
    // Two instances may create the same fingerprint at once; the unique index refuses one, and a
    // second pass then finds the row and counts into it.
    private static readonly ResiliencePipeline SaveRetry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<DbUpdateException>(),
            MaxRetryAttempts = 3,
            Delay = TimeSpan.FromMilliseconds(50),
            UseJitter = true,
        })
        .Build();

    private long _processed;
    private long _failed;

    /// <summary>Signals written into incidents so far.</summary>
    public long Processed => Interlocked.Read(ref _processed);

    /// <summary>Signals lost because their batch could not be stored after retries.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Signal>(options.CurrentValue.CaptureBatchSize);
        try
        {
            while (await intake.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < options.CurrentValue.CaptureBatchSize && intake.Reader.TryRead(out var signal))
                {
                    batch.Add(signal);
                }

                try
                {
                    await ProcessBatchAsync(batch, stoppingToken);
                    Interlocked.Add(ref _processed, batch.Count);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    Interlocked.Add(ref _failed, batch.Count);
                    logger.LogWarning(ex, "A capture batch of {Count} signals could not be stored", batch.Count);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await DrainAsync();
        }
    }

    // Signals already accepted (a 202 was answered) are stored before the host stops, within a bound.
    private async Task DrainAsync()
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var batch = new List<Signal>(options.CurrentValue.CaptureBatchSize);
        try
        {
            while (!bound.IsCancellationRequested)
            {
                batch.Clear();
                while (batch.Count < options.CurrentValue.CaptureBatchSize && intake.Reader.TryRead(out var signal))
                {
                    batch.Add(signal);
                }

                if (batch.Count == 0)
                {
                    return;
                }

                await ProcessBatchAsync(batch, bound.Token);
                Interlocked.Add(ref _processed, batch.Count);
            }
        }
        catch (Exception ex)
        {
            Interlocked.Add(ref _failed, batch.Count + intake.Buffered);
            logger.LogWarning(ex, "Stopping: {Count} buffered signals could not be stored", batch.Count + intake.Buffered);
        }
    }

    internal async Task ProcessBatchAsync(IReadOnlyList<Signal> batch, CancellationToken cancellationToken)
    {
        var groups = batch
            .Select(s => (Signal: s, Fingerprint: Fingerprinter.Compute(s)))
            .GroupBy(x => x.Fingerprint)
            .Select(g => new Group(g.Key, g.Select(x => x.Signal).ToList()))
            .ToList();

        var startMissions = new List<(Guid IncidentId, string Fingerprint, Signal Signal)>();
        var updates = new List<IncidentUpdated>();
        await SaveRetry.ExecuteAsync(async ct =>
        {
            startMissions.Clear();
            updates.Clear();
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var keys = groups.Select(g => g.Fingerprint).ToList();
            var existing = await db.Incidents.Where(i => keys.Contains(i.Fingerprint)).ToDictionaryAsync(i => i.Fingerprint, ct);
            var now = time.GetUtcNow();
            var quietSince = now - TimeSpan.FromMinutes(options.CurrentValue.DedupWindowMinutes);
            foreach (var group in groups)
            {
                var firing = group.Signals.Where(x => !x.Resolved).ToList();
                var resolvedLast = group.Signals[^1].Resolved;
                var isNew = !existing.TryGetValue(group.Fingerprint, out var incident);
                if (firing.Count == 0)
                {
                    // Only "resolved" notices: close the incident if it is open; an unknown one is nothing to close.
                    if (incident is not null && incident.Status != IncidentStatus.Resolved)
                    {
                        incident.Status = IncidentStatus.Resolved;
                        incident.ResolvedAt = now;
                        updates.Add(new IncidentUpdated(now, incident.Id, incident.Fingerprint, incident.Source, incident.Status, incident.Count, false));
                    }

                    continue;
                }

                var last = firing[^1];
                var severity = firing.Max(x => x.Severity);
                if (incident is null)
                {
                    incident = new Incident
                    {
                        Id = Guid.CreateVersion7(now),
                        Fingerprint = group.Fingerprint,
                        Source = Truncate(last.Source, 256),
                        ExceptionType = last.ExceptionType is null ? null : Truncate(last.ExceptionType, 256),
                        Template = Truncate(Fingerprinter.TemplateOf(last), 2048),
                        SampleMessage = Truncate(last.Message, 4096),
                        Severity = severity,
                        Status = IncidentStatus.Open,
                        Target = last.Target is null ? null : Truncate(last.Target, 128),
                        Labels = last.Labels is { Count: > 0 } labels ? Truncate(JsonSerializer.Serialize(labels), 4096) : null,
                        FirstSeenAt = firing.Min(x => x.Timestamp),
                        LastSeenAt = now,
                        Count = 0,
                    };
                    db.Incidents.Add(incident);
                    if (!resolvedLast)
                    {
                        startMissions.Add((incident.Id, incident.Fingerprint, last));
                    }
                }
                else if (incident.Status == IncidentStatus.Resolved || incident.LastSeenAt < quietSince)
                {
                    // A resolved incident that fires again reopens; an open one silent past the dedup window recurs.
                    incident.Status = IncidentStatus.Open;
                    incident.Reopened++;
                    incident.ResolvedAt = null;
                    if (!resolvedLast)
                    {
                        startMissions.Add((incident.Id, incident.Fingerprint, last));
                    }
                }

                incident.Count += firing.Count;
                incident.LastSeenAt = now;
                incident.SampleMessage = Truncate(last.Message, 4096);
                if (severity > incident.Severity)
                {
                    incident.Severity = severity;
                }

                if (resolvedLast)
                {
                    incident.Status = IncidentStatus.Resolved;
                    incident.ResolvedAt = now;
                }

                updates.Add(new IncidentUpdated(now, incident.Id, incident.Fingerprint, incident.Source, incident.Status, incident.Count, isNew));
            }

            await db.SaveChangesAsync(ct);
        }, cancellationToken);

        foreach (var update in updates)
        {
            rates.Record(update.IncidentId, groups.First(g => g.Fingerprint == update.Fingerprint).Signals.Count(x => !x.Resolved));
            notifier.Publish(update);
        }

        foreach (var (incidentId, fingerprint, signal) in startMissions.Where(m => !m.Signal.Resolved))
        {
            if (storms.TryStart(fingerprint))
            {
                await StartMissionAsync(incidentId, signal, cancellationToken);
            }
            else
            {
                // Said once per held-back start (only new or reopened incidents get here), so the open incident is explained.
                logger.LogWarning("Storm control held back a mission for incident {IncidentId} from {Source}: too many starts for its fingerprint within the hour "
                    + "(Grace:Engine:MaxMissionStartsPerFingerprintPerHour = {PerHour}) or overall within the minute (Grace:Engine:MaxMissionStartsPerMinute = {PerMinute}); it stays open for people",
                    incidentId, signal.Source, options.CurrentValue.MaxMissionStartsPerFingerprintPerHour, options.CurrentValue.MaxMissionStartsPerMinute);
            }
        }
    }

    private async Task StartMissionAsync(Guid incidentId, Signal signal, CancellationToken cancellationToken)
    {
        try
        {
            var diagnosis = await sentinel.DiagnoseAsync(signal, cancellationToken);
            if (diagnosis is null)
            {
                return; // No pattern: the incident stays open for humans.
            }

            if (await planner.PlanAsync(incidentId, signal, diagnosis, cancellationToken) is { } missionId)
            {
                scheduler.Enqueue(missionId);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Planning a mission for incident {IncidentId} failed", incidentId);
        }
    }

    private static string Truncate(string value, int max) => value.Length <= max ? value : value[..max];

    private sealed record Group(string Fingerprint, List<Signal> Signals);
}
