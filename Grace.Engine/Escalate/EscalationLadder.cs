using Grace.Data.Entities;
using Grace.Data;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Grace.Engine.Formatting;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Notifications.Outbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Escalate;

/// <summary>What the ladder decided when a mission ended.</summary>
public enum EscalationStep
{
    /// <summary>Nothing to climb: healed, resolved meanwhile, a dry run, or already with people.</summary>
    None,
    /// <summary>The next-ranked playbook is planned now.</summary>
    NextPlaybook,
    /// <summary>A retry is due once the cooldown has passed (the sweep plans it then).</summary>
    RetryScheduled,
    /// <summary>Handed to people, and notified.</summary>
    NeedsHuman,
}

/// <summary>
/// The escalation ladder (ADR 0012). When a mission ends without healing its incident (failed,
/// rolled back, blocked, expired or rejected) and the incident is not resolved, the ladder climbs
/// one rung, in the same unit of work as the mission's outcome: the next-ranked playbook of the
/// pattern not yet tried in this episode; then a retry once the cooldown has passed (bounded);
/// then people: the incident needs a human, and the outbox notifies them. Every rung is a line on
/// the incident's timeline. A rung that falls due while the incident is quiet waits for it to fire
/// again (<see cref="ResumeOnSignal"/>), so it is never forgotten and never run for nothing.
/// </summary>
public sealed class EscalationLadder(
    IOptionsMonitor<CatalogOptions> catalog,
    IOptionsMonitor<EngineOptions> engine,
    Sentinel sentinel,
    KillSwitch killSwitch,
    IncidentJournal journal,
    TimeProvider time,
    ILogger<EscalationLadder> logger,
    NotificationOutbox? outbox = null)
{
    /// <summary>The ladder of a pattern: its own, or the engine's default.</summary>
    public EscalationOptions For(string? patternKey) =>
        patternKey is not null && catalog.CurrentValue.Patterns.TryGetValue(patternKey, out var pattern) && pattern.Escalation is { } own
            ? own
            : engine.CurrentValue.Escalation;

    /// <summary>
    /// Climbs one rung for a mission that just ended (tracked, with its incident), adding to the
    /// caller's unit of work. The caller saves, publishes the returned lines, and plans the incident
    /// when the answer is <see cref="EscalationStep.NextPlaybook"/>.
    /// </summary>
    public async Task<(EscalationStep Step, List<IncidentEvent> Lines)> OnMissionEndedAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        var lines = new List<IncidentEvent>();
        var incident = mission.Incident ?? await db.Incidents.SingleAsync(i => i.Id == mission.IncidentId, cancellationToken);
        var what = $"'{mission.PlaybookKey}' on '{mission.Target}'";
        lines.Add(journal.Add(db, incident.Id, IncidentEventKind.MissionEnded,
            $"Mission {what} ended {mission.State}" + (mission.StatusReason is { Length: > 0 } r ? $": {r}" : "."), missionId: mission.Id, playbookKey: mission.PlaybookKey));

        if (mission.State == MissionState.Succeeded)
        {
            var wasWithPeople = incident.NeedsHuman;
            ClearLadder(incident);
            lines.Add(journal.Add(db, incident.Id, IncidentEventKind.Resolved,
                $"Resolved: the contract of {what} held." + (wasWithPeople ? " It no longer needs a human." : ""), missionId: mission.Id, playbookKey: mission.PlaybookKey));
            return (EscalationStep.None, lines);
        }

        if (mission.State == MissionState.DryRunCompleted || !Array.Exists(MissionStates.Unhealed, s => s == mission.State))
        {
            return (EscalationStep.None, lines);
        }

        if (incident.Status == IncidentStatus.Resolved)
        {
            ClearLadder(incident);
            lines.Add(journal.Add(db, incident.Id, IncidentEventKind.LadderStopped, "The incident was resolved meanwhile: no escalation.", missionId: mission.Id));
            return (EscalationStep.None, lines);
        }

        // Someone (a person's "run now") already started the next mission: the ladder leaves it to that one.
        if (await db.Missions.AsNoTracking().AnyAsync(m => m.IncidentId == incident.Id && m.Id != mission.Id && !MissionStates.Terminal.Contains(m.State), cancellationToken))
        {
            lines.Add(journal.Add(db, incident.Id, IncidentEventKind.LadderStopped, "Another mission for this incident is under way: the ladder waits for it.", missionId: mission.Id));
            return (EscalationStep.None, lines);
        }

        if (incident.NeedsHuman)
        {
            // People own it already (the ladder ran out, or a person's own mission did not heal it): they hear of this mission through its own notification.
            return (EscalationStep.None, lines);
        }

        var ladder = For(mission.PatternKey);
        var ended = $"{what} ended {mission.State}" + (mission.StatusReason is { Length: > 0 } why ? $" ({why})" : "");
        if (mission.Origin == MissionOrigin.Person)
        {
            return await HandToPeopleAsync(db, incident, mission, $"The mission {mission.RequestedBy} ran did not heal it: {ended}.", lines, cancellationToken);
        }

        if (!ladder.Enabled)
        {
            return await HandToPeopleAsync(db, incident, mission, $"Escalation is off for pattern '{mission.PatternKey}': {ended}.", lines, cancellationToken);
        }

        if (mission.State == MissionState.Rejected)
        {
            return await HandToPeopleAsync(db, incident, mission, $"An approver rejected {what}; the incident still fires.", lines, cancellationToken);
        }

        if (mission.State == MissionState.Blocked && await killSwitch.IsEngagedAsync(cancellationToken))
        {
            return await HandToPeopleAsync(db, incident, mission, $"The kill switch is engaged, so Grace acts on nothing: {ended}.", lines, cancellationToken);
        }

        var episode = await db.Missions.AsNoTracking()
            .Where(m => m.IncidentId == incident.Id && m.CreatedAt >= incident.OpenedAt)
            .Select(m => m.PlaybookKey)
            .ToListAsync(cancellationToken);
        if (!episode.Contains(mission.PlaybookKey, StringComparer.OrdinalIgnoreCase))
        {
            episode.Add(mission.PlaybookKey); // A mission planned before its incident's episode began (clock skew) still counts.
        }

        var tried = new HashSet<string>(episode, StringComparer.OrdinalIgnoreCase);
        var (ranked, _) = await sentinel.RankAsync(db, mission.PatternKey, cancellationToken);
        if (ladder.TryNextPlaybook && ranked.FirstOrDefault(k => !tried.Contains(k)) is { } next)
        {
            incident.NextPlaybookKey = next;
            incident.PlanPending = true;
            incident.RetryAt = null;
            incident.AwaitingRecurrence = false;
            lines.Add(journal.Add(db, incident.Id, IncidentEventKind.NextPlaybook,
                $"{Capitalise(ended)}. Next rung: the next-ranked playbook '{next}' ({tried.Count + 1} of {ranked.Count} candidates).", missionId: mission.Id, playbookKey: next));
            return (EscalationStep.NextPlaybook, lines);
        }

        var retriesUsed = episode.Count - tried.Count;
        if (retriesUsed < ladder.Retries)
        {
            var (playbook, at, afterCooldown) = await RetryOfAsync(db, ranked.Where(tried.Contains).DefaultIfEmpty(mission.PlaybookKey).ToList(), mission, ladder, cancellationToken);
            incident.NextPlaybookKey = playbook;
            incident.RetryAt = at;
            incident.AwaitingRecurrence = false;
            lines.Add(journal.Add(db, incident.Id, IncidentEventKind.RetryScheduled,
                $"{Capitalise(ended)}. Next rung: retry {retriesUsed + 1} of {ladder.Retries}, '{playbook}' again at {at:u}"
                + (afterCooldown ? ", once its cooldown has passed." : $" (Grace:Engine:Escalation:RetryDelaySeconds = {ladder.RetryDelaySeconds})."), missionId: mission.Id, playbookKey: playbook));
            return (EscalationStep.RetryScheduled, lines);
        }

        return await HandToPeopleAsync(db, incident, mission,
            $"Grace tried {HumanFormat.Count(tried.Count, "playbook")} and {HumanFormat.Count(retriesUsed, "retry", "retries")} for pattern '{mission.PatternKey}', and none healed it; the last: {ended}.",
            lines, cancellationToken);
    }

    /// <summary>
    /// A due retry, seen by the sweep: planned now while the incident still fires; if it has been
    /// quiet since its last mission ended, the rung waits for it to fire again. Returns whether to plan it.
    /// </summary>
    public async Task<(bool Plan, List<IncidentEvent> Lines)> RetryDueAsync(GraceDbContext db, Incident incident, CancellationToken cancellationToken)
    {
        var lines = new List<IncidentEvent>();
        incident.RetryAt = null;
        if (incident.Status == IncidentStatus.Resolved)
        {
            ClearLadder(incident);
            return (false, lines);
        }

        var lastEnded = await db.Missions.AsNoTracking()
            .Where(m => m.IncidentId == incident.Id && m.CompletedAt != null)
            .MaxAsync(m => m.CompletedAt, cancellationToken);
        if (lastEnded is { } endedAt && incident.LastSeenAt < endedAt)
        {
            incident.AwaitingRecurrence = true;
            lines.Add(journal.Add(db, incident.Id, IncidentEventKind.Paused,
                $"The retry of '{incident.NextPlaybookKey}' is due, but the incident has been quiet since {incident.LastSeenAt:u}: it waits until the incident fires again.",
                playbookKey: incident.NextPlaybookKey));
            return (false, lines);
        }

        incident.PlanPending = true;
        lines.Add(journal.Add(db, incident.Id, IncidentEventKind.RetryDue, $"Retry due: planning '{incident.NextPlaybookKey}' again (the incident still fires).", playbookKey: incident.NextPlaybookKey));
        return (true, lines);
    }

    /// <summary>
    /// Capture saw a quiet incident whose rung waits fire again: the rung goes on (planned now).
    /// Adds to the caller's unit of work; returns the line, or null when nothing waited.
    /// </summary>
    public IncidentEvent? ResumeOnSignal(GraceDbContext db, Incident incident)
    {
        if (!incident.AwaitingRecurrence || incident.Status == IncidentStatus.Resolved)
        {
            return null;
        }

        incident.AwaitingRecurrence = false;
        incident.PlanPending = true;
        return journal.Add(db, incident.Id, IncidentEventKind.Resumed,
            $"The incident fired again after a quiet spell: the waiting rung goes on with '{incident.NextPlaybookKey ?? "the best-ranked playbook"}'.", playbookKey: incident.NextPlaybookKey);
    }

    /// <summary>An incident that is resolved, or begins a new episode, starts its ladder afresh.</summary>
    public static void ClearLadder(Incident incident)
    {
        incident.NextPlaybookKey = null;
        incident.RetryAt = null;
        incident.AwaitingRecurrence = false;
        incident.NeedsHuman = false;
        incident.NeedsHumanAt = null;
        incident.NeedsHumanReason = null;
    }

    /// <summary>The last rung: the incident needs a human, and the outbox tells people (in the caller's transaction).</summary>
    public async Task<(EscalationStep, List<IncidentEvent>)> HandToPeopleAsync(GraceDbContext db, Incident incident, Mission? mission, string reason, List<IncidentEvent> lines, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        incident.NeedsHuman = true;
        incident.NeedsHumanAt = now;
        incident.NeedsHumanReason = IncidentJournal.Shorten(reason, ColumnLimits.ShortText);
        incident.NextPlaybookKey = null;
        incident.RetryAt = null;
        incident.AwaitingRecurrence = false;
        var notified = outbox is null ? 0 : await outbox.AddIncidentNeedsHumanAsync(db, incident, reason,
            $"{incident.Reopened}:{mission?.Id.ToString() ?? now.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture)}", mission?.Tier, cancellationToken);
        lines.Add(journal.Add(db, incident.Id, IncidentEventKind.NeedsHuman,
            $"Needs a human: {reason}" + (notified > 0 ? $" Notified on {notified} channel(s)." : " No notification route takes IncidentNeedsHuman."), missionId: mission?.Id));
        logger.LogWarning("Incident {IncidentId} from {Source} needs a human: {Reason}", incident.Id, incident.Source, reason);
        return (EscalationStep.NeedsHuman, lines);
    }

    /// <summary>The playbook to retry and when: the one whose cooldown ends first (best-ranked on a tie); never sooner than the retry delay after a failure.</summary>
    private async Task<(string Playbook, DateTimeOffset At, bool AfterCooldown)> RetryOfAsync(GraceDbContext db, List<string> candidates, Mission mission, EscalationOptions ladder, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        (string Playbook, DateTimeOffset At, bool AfterCooldown)? best = null;
        foreach (var key in candidates)
        {
            var playbook = catalog.CurrentValue.Playbooks.GetValueOrDefault(key);
            var cooldown = TimeSpan.FromSeconds(playbook?.CooldownSeconds ?? engine.CurrentValue.DefaultCooldownSeconds);
            var target = playbook?.FirstTarget ?? mission.Target;
            var runbook = playbook?.IsRunbook == true;
            var lastRun = await db.Missions.AsNoTracking()
                .Where(m => m.PlaybookKey == key && (runbook || m.Target == target) && m.ExecutedAt != null)
                .MaxAsync(m => m.ExecutedAt, cancellationToken);
            var cooldownEnds = lastRun is { } ran ? ran + cooldown : now;
            var afterCooldown = cooldownEnds > now;
            var at = afterCooldown ? cooldownEnds.AddSeconds(1) : now.AddSeconds(ladder.RetryDelaySeconds);
            if (best is null || at < best.Value.At)
            {
                best = (key, at, afterCooldown);
            }
        }

        return best ?? (mission.PlaybookKey, now.AddSeconds(ladder.RetryDelaySeconds), false);
    }

    private static string Capitalise(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}
