using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Grace.Engine.Missions;
using Grace.Engine.Plan;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Escalate;

/// <summary>An incident with its own timeline, its missions and the playbooks a person may run now.</summary>
public sealed record IncidentDetail(Incident Incident, IReadOnlyList<IncidentEvent> Timeline, IReadOnlyList<MissionSummary> Missions, string? PatternKey, IReadOnlyList<string> Candidates);

/// <summary>
/// What people do to an incident: acknowledge, assign, comment, resolve, and run a playbook now.
/// The rules are enforced here, whatever page or request calls it: Operators, Leads and Admins act;
/// Viewers only read. Every action is audited and is a line on the incident's timeline. "Run now"
/// plans the mission on the target's grain like the engine does, so the same policy, tier and
/// approvals apply (the person who asked never approves it).
/// </summary>
public sealed class IncidentService(
    IDbContextFactory<GraceDbContext> dbFactory,
    IOptionsMonitor<CatalogOptions> catalog,
    Sentinel sentinel,
    IServiceProvider services,
    IncidentJournal journal,
    Audit.AuditTrail audit,
    TimeProvider time)
{
    /// <summary>The longest comment or reason accepted (the timeline's and audit's columns).</summary>
    public const int MaxTextLength = ColumnLimits.ShortText;

    public const int MaxUserNameLength = ColumnLimits.UserName;

    public async Task<IncidentDetail?> DetailAsync(Guid incidentId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var incident = await db.Incidents.AsNoTracking().SingleOrDefaultAsync(i => i.Id == incidentId, cancellationToken);
        if (incident is null)
        {
            return null;
        }

        var timeline = await db.IncidentEvents.AsNoTracking().Where(e => e.IncidentId == incidentId).OrderBy(e => e.Id).ToListAsync(cancellationToken);
        // Its own missions, and the missions of others that covered it.
        var covering = db.MissionEvents.Where(e => e.IncidentId == incidentId && e.Kind == MissionPlanner.CoversEvent).Select(e => e.MissionId);
        var missions = await db.Missions.AsNoTracking()
            .Where(m => m.IncidentId == incidentId || covering.Contains(m.Id))
            .OrderByDescending(m => m.CreatedAt)
            .Select(m => new MissionSummary(m.Id, m.PlaybookKey, m.PatternKey, m.Target, m.Tier, m.State, m.Stage, m.CreatedAt, m.UpdatedAt, m.StatusReason, m.Incident!.Source, m.IncidentId))
            .ToListAsync(cancellationToken);
        var pattern = await PatternOfAsync(incident, cancellationToken);
        var candidates = pattern is not null && catalog.CurrentValue.Patterns.TryGetValue(pattern, out var p) ? p.Playbooks.Where(catalog.CurrentValue.Playbooks.ContainsKey).ToList() : [];
        return new IncidentDetail(incident, timeline, missions, pattern, candidates);
    }

    /// <summary>"I am on it": recorded, audited; the incident keeps needing a human until it is resolved.</summary>
    public Task AcknowledgeAsync(Guid incidentId, Actor actor, CancellationToken cancellationToken) =>
        ActAsync(incidentId, actor, "incident.acknowledge", null, (db, incident) =>
        {
            if (incident.AcknowledgedBy is not null && string.Equals(incident.AcknowledgedBy, actor.Name, StringComparison.OrdinalIgnoreCase))
            {
                throw new MissionOperationException($"{actor.Name} has already acknowledged this incident.");
            }

            incident.AcknowledgedBy = actor.Name;
            incident.AcknowledgedAt = time.GetUtcNow();
            return Task.FromResult((IncidentEventKind.Acknowledged, $"Acknowledged by {actor.Name}."));
        }, cancellationToken);

    /// <summary>Gives the incident to a person (an existing, active user).</summary>
    public Task AssignAsync(Guid incidentId, string? assignee, Actor actor, CancellationToken cancellationToken)
    {
        Authorize(actor);
        if (string.IsNullOrWhiteSpace(assignee))
        {
            throw new MissionOperationException("assignee is required: the user name of the person who takes the incident.", field: "assignee");
        }

        if (assignee.Length > MaxUserNameLength)
        {
            throw new MissionOperationException($"assignee must be at most {MaxUserNameLength} characters.", field: "assignee");
        }

        var name = assignee.Trim();
        return ActAsync(incidentId, actor, "incident.assign", name, async (db, incident) =>
        {
            var normalized = name.ToUpperInvariant();
            var user = await db.Users.AsNoTracking().Where(u => u.NormalizedUserName == normalized)
                .Select(u => new { u.UserName, u.LockoutEnd }).SingleOrDefaultAsync(cancellationToken)
                ?? throw new MissionOperationException($"assignee: there is no user '{name}'.", field: "assignee");
            if (user.LockoutEnd is { } end && end > time.GetUtcNow().AddYears(10))
            {
                throw new MissionOperationException($"assignee: user '{name}' is disabled.", field: "assignee");
            }

            incident.AssignedTo = user.UserName;
            return (IncidentEventKind.Assigned, $"Assigned to {user.UserName} by {actor.Name}.");
        }, cancellationToken);
    }

    /// <summary>A note on the incident's timeline.</summary>
    public Task CommentAsync(Guid incidentId, string? text, Actor actor, CancellationToken cancellationToken)
    {
        Authorize(actor);
        RequireText(text, "text", "text is required: the comment.");
        return ActAsync(incidentId, actor, "incident.comment", text, (db, incident) =>
            Task.FromResult((IncidentEventKind.Commented, $"{actor.Name}: {text!.Trim()}")), cancellationToken);
    }

    /// <summary>Closes the incident (and ends its escalation); a reason is required.</summary>
    public Task ResolveAsync(Guid incidentId, string? reason, Actor actor, CancellationToken cancellationToken)
    {
        Authorize(actor);
        RequireText(reason, "reason", "reason is required: why the incident is resolved.");
        return ActAsync(incidentId, actor, "incident.resolve", reason, (db, incident) =>
        {
            if (incident.Status == IncidentStatus.Resolved)
            {
                throw new MissionOperationException("The incident is already resolved.");
            }

            incident.Status = IncidentStatus.Resolved;
            incident.ResolvedAt = time.GetUtcNow();
            incident.PlanPending = false;
            EscalationLadder.ClearLadder(incident);
            return Task.FromResult((IncidentEventKind.Resolved, $"Resolved by {actor.Name}: {reason!.Trim()}"));
        }, cancellationToken);
    }

    /// <summary>
    /// Runs a candidate playbook of the incident's pattern now, as a mission requested by the person
    /// (optionally a dry run first). The gate decides as for any mission: kill switch, cooldown, caps,
    /// the tier and its approvers. Returns the mission's id.
    /// </summary>
    public async Task<Guid> RunPlaybookAsync(Guid incidentId, string? playbookKey, bool dryRun, Actor actor, CancellationToken cancellationToken)
    {
        Authorize(actor);
        if (string.IsNullOrWhiteSpace(playbookKey))
        {
            throw new MissionOperationException("playbook is required: a candidate playbook of the incident's pattern.", field: "playbook");
        }

        if (playbookKey.Length > ColumnLimits.Key)
        {
            throw new MissionOperationException("playbook must be at most 128 characters: a key under Grace:Playbooks.", field: "playbook");
        }

        Incident incident;
        string pattern;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            incident = await db.Incidents.SingleOrDefaultAsync(i => i.Id == incidentId, cancellationToken)
                ?? throw new MissionOperationException($"Incident {incidentId} does not exist.", notFound: true);
            pattern = await PatternOfAsync(incident, cancellationToken)
                ?? throw new MissionOperationException("No pattern matches this incident, so Grace has no playbook for it.");
            var candidates = catalog.CurrentValue.Patterns[pattern].Playbooks.Where(catalog.CurrentValue.Playbooks.ContainsKey).ToList();
            var key = candidates.FirstOrDefault(k => string.Equals(k, playbookKey.Trim(), StringComparison.OrdinalIgnoreCase))
                ?? throw new MissionOperationException($"playbook: '{playbookKey}' is not a candidate of pattern '{pattern}'; candidates: {string.Join(", ", candidates)}.", field: "playbook");
            playbookKey = key;
            if (await db.Missions.AsNoTracking().Where(m => m.IncidentId == incidentId && !MissionStates.Terminal.Contains(m.State)).Select(m => (Guid?)m.Id).FirstOrDefaultAsync(cancellationToken) is { } running)
            {
                throw new MissionOperationException($"Mission {running} for this incident is still under way; wait for it to end.");
            }

            // The request is recorded (and audited) before the mission exists: what was asked stands even if planning fails.
            var line = journal.Add(db, incidentId, IncidentEventKind.RunRequested,
                $"{actor.Name} asked to run '{key}' now" + (dryRun ? " as a dry run." : "."), actor.Name, playbookKey: key);
            Audit(db, actor, "incident.run-playbook", incidentId, $"{key}{(dryRun ? " (dry run)" : "")}");
            await db.SaveChangesAsync(cancellationToken);
            journal.Publish([line]);
        }

        // Resolved when asked: planning reaches the cluster's grains, which pages read without.
        var planning = (PlanningService)(services.GetService(typeof(PlanningService)) ?? throw new InvalidOperationException("The planning service is not running here."));
        return await planning.PlanForPersonAsync(incident, pattern, playbookKey, actor.Name, dryRun, cancellationToken)
            ?? throw new MissionOperationException($"Another mission already runs '{playbookKey}' on its target and covers this incident; see its missions.");
    }

    private async Task<string?> PatternOfAsync(Incident incident, CancellationToken cancellationToken)
    {
        if (incident.PatternKey is { } known && catalog.CurrentValue.Patterns.ContainsKey(known))
        {
            return known;
        }

        return (await sentinel.DiagnoseAsync(PlanningService.SignalOf(incident), cancellationToken))?.PatternKey;
    }

    private async Task ActAsync(Guid incidentId, Actor actor, string auditAction, string? detail,
        Func<GraceDbContext, Incident, Task<(IncidentEventKind Kind, string Message)>> change, CancellationToken cancellationToken)
    {
        Authorize(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var incident = await db.Incidents.SingleOrDefaultAsync(i => i.Id == incidentId, cancellationToken)
            ?? throw new MissionOperationException($"Incident {incidentId} does not exist.", notFound: true);
        var (kind, message) = await change(db, incident);
        var line = journal.Add(db, incidentId, kind, message, actor.Name);
        Audit(db, actor, auditAction, incidentId, detail);
        await db.SaveChangesAsync(cancellationToken);
        journal.Publish([line]);
    }

    private static void Authorize(Actor actor)
    {
        if (!actor.CanActOnIncidents)
        {
            throw new MissionOperationException($"{actor.Name} may not act on incidents: it needs the Operator, Lead or Admin role.", forbidden: true);
        }
    }

    private static void RequireText(string? text, string field, string missing)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new MissionOperationException(missing, field: field);
        }

        if (text.Length > MaxTextLength)
        {
            throw new MissionOperationException($"{field} must be at most {MaxTextLength} characters.", field: field);
        }
    }

    private void Audit(GraceDbContext db, Actor actor, string action, Guid incidentId, string? detail) =>
        audit.Add(db, actor, action, $"incident/{incidentId}", detail);
}
