using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Notifications;
using Microsoft.EntityFrameworkCore;

namespace Grace.Engine.Learn;

/// <summary>
/// Records one outcome per mission and updates the playbook's statistics incrementally: runs,
/// success rate, Wilson lower-bound confidence, mean time to recover, rollbacks; then marks, per
/// pattern, the playbook with the best confidence as recommended.
/// </summary>
public sealed class LearningService(IPipelineNotifier notifier, TimeProvider time)
{
    /// <summary>
    /// Wilson score interval lower bound at 95 %: 3 of 3 gives 0.44, 30 of 30 gives 0.89, so a
    /// playbook earns trust with runs, not with one lucky success.
    /// </summary>
    public static double WilsonLowerBound(int successes, int runs, double z = 1.96)
    {
        if (runs <= 0)
        {
            return 0;
        }

        var p = (double)successes / runs;
        var z2 = z * z;
        var centre = p + (z2 / (2 * runs));
        var margin = z * Math.Sqrt((p * (1 - p) / runs) + (z2 / (4.0 * runs * runs)));
        return Math.Max(0, (centre - margin) / (1 + (z2 / runs)));
    }

    /// <summary>
    /// Adds the outcome of a finished mission to the caller's unit of work. Returns whether anything
    /// was recorded, and the statistics change to publish once the caller has committed.
    /// </summary>
    public async Task<(bool Recorded, StatisticsUpdated? Update)> RecordAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        if (await db.Outcomes.AnyAsync(o => o.MissionId == mission.Id, cancellationToken))
        {
            return (false, null);
        }

        var now = time.GetUtcNow();
        // A contract that held before the action proves nothing: never a success of the playbook.
        var vacuous = mission.ContractAtPlan == ContractPrecheck.AlreadyHeld;
        var success = mission.State == MissionState.Succeeded && !vacuous;
        var rolledBack = mission.State == MissionState.RolledBack;
        var parts = success && mission.Contract?.VerifiedAt is { } verified
            ? RecoveryParts.Of(mission, mission.Incident ?? await db.Incidents.AsNoTracking().SingleAsync(i => i.Id == mission.IncidentId, cancellationToken),
                await db.MissionEvents.AsNoTracking().Where(e => e.MissionId == mission.Id).OrderBy(e => e.Id).Select(e => new TimedEvent(e.Kind, e.At)).ToListAsync(cancellationToken),
                verified)
            : null;
        double? recover = parts?.Total;
        db.Outcomes.Add(new OutcomeRecord
        {
            Id = Guid.CreateVersion7(now),
            MissionId = mission.Id,
            PatternKey = mission.PatternKey,
            PlaybookKey = mission.PlaybookKey,
            Target = mission.Target,
            FinalState = mission.State,
            Success = success,
            RolledBack = rolledBack,
            TimeToRecoverSeconds = recover,
            DetectSeconds = parts?.Detect,
            DecideSeconds = parts?.Decide,
            ApproveSeconds = parts?.Approve,
            ActSeconds = parts?.Act,
            VerifySeconds = parts?.Verify,
            FailedStep = Missions.Runbooks.FailedStep(mission),
            At = now,
        });

        // Only actions that ran teach anything about the playbook; a rejection, a cooldown, a shadow
        // recording or a contract that already held does not.
        if (mission.ExecutedAt is null || mission.DryRun || mission.Shadow || vacuous)
        {
            return (true, null);
        }

        var stats = await db.PlaybookStatistics.SingleOrDefaultAsync(s => s.PatternKey == mission.PatternKey && s.PlaybookKey == mission.PlaybookKey, cancellationToken);
        if (stats is null)
        {
            stats = new PlaybookStatistics { PatternKey = mission.PatternKey, PlaybookKey = mission.PlaybookKey };
            db.PlaybookStatistics.Add(stats);
        }

        stats.Runs++;
        if (success)
        {
            stats.Successes++;
            if (recover is { } r)
            {
                // Incremental mean over the successful runs.
                stats.MeanTimeToRecoverSeconds += (r - stats.MeanTimeToRecoverSeconds) / stats.Successes;
            }
        }

        if (rolledBack)
        {
            stats.Rollbacks++;
        }

        stats.SuccessRate = (double)stats.Successes / stats.Runs;
        stats.Confidence = WilsonLowerBound(stats.Successes, stats.Runs);
        stats.LastRunAt = now;

        var siblings = await db.PlaybookStatistics.Where(s => s.PatternKey == mission.PatternKey && s.PlaybookKey != mission.PlaybookKey).ToListAsync(cancellationToken);
        var best = siblings.Append(stats).OrderByDescending(s => s.Confidence).ThenByDescending(s => s.Runs).First();
        foreach (var s in siblings.Append(stats))
        {
            s.Recommended = ReferenceEquals(s, best) && s.Confidence > 0;
        }

        return (true, new StatisticsUpdated(now, stats.PatternKey, stats.PlaybookKey, stats.Runs, stats.SuccessRate, stats.Confidence));
    }

    public void Publish(StatisticsUpdated? update)
    {
        if (update is not null)
        {
            notifier.Publish(update);
        }
    }
}

/// <summary>A timeline line's kind and time, as the recovery split reads it.</summary>
public sealed record TimedEvent(string Kind, DateTimeOffset At);

/// <summary>
/// Time to recover, from the incident's first signal (of its current episode) to the verified
/// contract, split into five parts that add up to it: detect (first signal → this mission planned,
/// earlier escalation rungs included), decide (planned → the gate's decision), approve (waiting for
/// approvers), act (approved → the actions done: snapshots, benchmarks, each step's action), verify
/// (waiting for the contracts to hold, each step's for a runbook). Read from real timestamps.
/// </summary>
public sealed record RecoveryParts(double Detect, double Decide, double Approve, double Act, double Verify)
{
    public double Total => Detect + Decide + Approve + Act + Verify;

    public static RecoveryParts Of(Mission mission, Incident incident, IReadOnlyList<TimedEvent> events, DateTimeOffset verified)
    {
        var firstSignal = incident.OpenedAt == default ? incident.FirstSeenAt : incident.OpenedAt;
        var planned = mission.CreatedAt;
        if (firstSignal > planned)
        {
            firstSignal = planned; // A signal stamped by a skewed clock: no negative detection.
        }

        var decided = events.FirstOrDefault(e => e.Kind is "cleared" or "awaiting-approval")?.At ?? planned;
        var approved = events.FirstOrDefault(e => e.Kind == "approved" && e.At >= decided)?.At ?? decided;
        // Act: from approval to the first intent (snapshot, benchmarks), then each action from its intent to its result.
        double act = 0;
        DateTimeOffset? intent = null;
        var firstIntent = events.FirstOrDefault(e => e.Kind == "intent")?.At;
        foreach (var e in events)
        {
            if (e.Kind == "intent")
            {
                intent = e.At;
            }
            else if (e.Kind == "executed" && intent is { } started)
            {
                act += (e.At - started).TotalSeconds;
                intent = null;
            }
        }

        if (firstIntent is { } first && first > approved)
        {
            act += (first - approved).TotalSeconds;
        }

        var afterApproval = Math.Max(0, (verified - approved).TotalSeconds);
        act = Math.Min(act, afterApproval);
        return new RecoveryParts(
            Math.Max(0, (planned - firstSignal).TotalSeconds),
            Math.Max(0, (decided - planned).TotalSeconds),
            Math.Max(0, (approved - decided).TotalSeconds),
            act,
            afterApproval - act);
    }
}
