using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Gate;
using Grace.Engine.Plan;
using Grace.Engine.Snapshot;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Missions;

/// <summary>
/// What needs a human now and what is moving, for the overview. <paramref name="Trouble"/> and the
/// counts leave out missions a person dismissed (<paramref name="Dismissed"/> counts those).
/// </summary>
public sealed record OverviewFigures(int PendingApprovals, int MissionsInTrouble, int MissionsRunning, int OpenIncidents, bool KillSwitchEngaged,
    IReadOnlyList<TroubleMission> Trouble, IReadOnlyDictionary<MissionState, int> TroubleByState, IReadOnlyList<Incident> NeedsHuman, int Dismissed = 0);

/// <summary>
/// A mission in trouble on the Overview. <paramref name="SupersededBy"/> is a later mission of the same
/// playbook on the same target and pattern that succeeded: the trouble is history, not a present danger.
/// </summary>
public sealed record TroubleMission(MissionSummary Mission, MissionSummary? SupersededBy);

/// <summary>A search and page of the incidents list; <paramref name="Search"/> looks in the message, source, fingerprint and pattern.</summary>
public sealed record IncidentQuery(string? Search = null, bool OpenOnly = false, IncidentStatus? Status = null, int Page = 0, int PageSize = 50);

/// <summary>A search and page of the audit log; <paramref name="Search"/> looks in who, what and the subject.</summary>
public sealed record AuditQuery(string? Search = null, int Page = 0, int PageSize = 50);

/// <summary>
/// Everything an approver needs to decide, on one card. <paramref name="ApprovedAgainst"/> is the
/// state of the target the approval holds for ("312 files, 61 MiB"): if it changes before the
/// action runs, the approval is void.
/// </summary>
public sealed record ApprovalCard(
    Guid MissionId, string PlaybookKey, string? PlaybookTitle, string Action, string Target, string? TargetDescription, int Tier,
    string Impact, string PatternKey, string IncidentSource, string IncidentSample, long IncidentCount,
    string ContractDescription, double? Baseline, string? SnapshotSummary, string? ApprovedAgainst, int Approvals, int RequiredCount,
    IReadOnlyList<string> ApprovedBy, string RequestedBy, DateTimeOffset RequestedAt, DateTimeOffset ExpiresAt,
    int PlaybookRuns, double PlaybookSuccessRate, double PlaybookConfidence, string? ContractUnit = null);

/// <summary>A filter, sort and page of the missions list; <paramref name="IncidentId"/> keeps the missions of one incident.</summary>
public sealed record MissionQuery(MissionState? State = null, string? Search = null, string SortBy = "created", bool Descending = true, int Page = 0, int PageSize = 25,
    Guid? IncidentId = null);

/// <summary>
/// Read models for the console: one short-lived, untracked context per query. Writes go through
/// the engine's services, which enforce the rules.
/// </summary>
// Searches lower-case both sides in SQL (lower() and instr/strpos on SQLite and PostgreSQL): the
// StringComparison overloads the analyzer suggests cannot be translated to SQL.
#pragma warning disable CA1862
public sealed class ConsoleQueries(
    IDbContextFactory<GraceDbContext> dbFactory,
    KillSwitch killSwitch,
    IOptionsMonitor<CatalogOptions> catalog,
    ExecutorCatalog executors,
    SnapshotService snapshots,
    TimeProvider time)
{
    private static readonly MissionState[] Running = [MissionState.Planned, MissionState.Approved, MissionState.Executing, MissionState.Verifying];
    private static readonly MissionState[] Trouble = MissionStates.Trouble;

    public async Task<OverviewFigures> OverviewAsync(CancellationToken cancellationToken)
    {
        var since = time.GetUtcNow().AddHours(-24);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var pending = await db.Missions.CountAsync(m => m.State == MissionState.AwaitingApproval, cancellationToken);
        var running = await db.Missions.CountAsync(m => Running.Contains(m.State), cancellationToken);
        var open = await db.Incidents.CountAsync(i => i.Status != IncidentStatus.Resolved, cancellationToken);
        var recent = db.Missions.AsNoTracking().Where(m => Trouble.Contains(m.State) && m.UpdatedAt > since);
        var dismissed = await recent.CountAsync(m => m.DismissedAt != null, cancellationToken);
        recent = recent.Where(m => m.DismissedAt == null);
        var byState = (await recent
            .GroupBy(m => m.State).Select(g => new { g.Key, Count = g.Count() })
            .ToListAsync(cancellationToken)).ToDictionary(g => g.Key, g => g.Count);
        var trouble = await recent
            .OrderByDescending(m => m.UpdatedAt).Take(20)
            .Select(m => new MissionSummary(m.Id, m.PlaybookKey, m.PatternKey, m.Target, m.Tier, m.State, m.Stage, m.CreatedAt, m.UpdatedAt, m.StatusReason, m.Incident!.Source, m.IncidentId))
            .ToListAsync(cancellationToken);
        var playbooks = trouble.Select(m => m.PlaybookKey).Distinct().ToList();
        var earliest = trouble.Count == 0 ? since : trouble.Min(m => m.CreatedAt);
        // The later successes of the same playbooks: a handful of rows, matched to target and pattern here.
        var successes = await db.Missions.AsNoTracking()
            .Where(m => m.State == MissionState.Succeeded && playbooks.Contains(m.PlaybookKey) && m.CreatedAt > earliest)
            .OrderBy(m => m.CreatedAt)
            .Select(m => new MissionSummary(m.Id, m.PlaybookKey, m.PatternKey, m.Target, m.Tier, m.State, m.Stage, m.CreatedAt, m.UpdatedAt, m.StatusReason, m.Incident!.Source, m.IncidentId))
            .ToListAsync(cancellationToken);
        var needsHuman = await db.Incidents.AsNoTracking()
            .Where(i => i.NeedsHuman && i.Status != IncidentStatus.Resolved)
            .OrderByDescending(i => i.NeedsHumanAt).Take(50)
            .ToListAsync(cancellationToken);
        var rows = trouble.Select(m => new TroubleMission(m, successes.FirstOrDefault(s =>
            s.PlaybookKey == m.PlaybookKey && s.Target == m.Target && s.PatternKey == m.PatternKey && s.CreatedAt > m.CreatedAt))).ToList();
        return new OverviewFigures(pending, byState.Values.Sum(), running, open, await killSwitch.IsEngagedAsync(cancellationToken), rows, byState, needsHuman, dismissed);
    }

    public async Task<IReadOnlyList<ApprovalCard>> PendingApprovalsAsync(CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var missions = await db.Missions.AsNoTracking()
            .Include(m => m.Incident).Include(m => m.Contract).Include(m => m.Approval!).ThenInclude(a => a.Decisions).Include(m => m.Snapshots)
            .Where(m => m.State == MissionState.AwaitingApproval)
            .AsSplitQuery()
            .ToListAsync(cancellationToken);
        var stats = await db.PlaybookStatistics.AsNoTracking().ToListAsync(cancellationToken);
        return missions.OrderBy(m => m.Approval!.ExpiresAt).Select(m =>
        {
            var playbook = catalog.CurrentValue.Playbooks.GetValueOrDefault(m.PlaybookKey);
            var target = catalog.CurrentValue.Targets.GetValueOrDefault(m.Target);
            var s = stats.FirstOrDefault(x => x.PlaybookKey == m.PlaybookKey && x.PatternKey == m.PatternKey);
            var forApprovers = m.Snapshots.Where(x => x.Purpose == SnapshotService.ForApproval).OrderByDescending(x => x.TakenAt).FirstOrDefault();
            return new ApprovalCard(
                m.Id, m.PlaybookKey, playbook?.Title, m.Action, m.Target, target?.Description, m.Tier, Impact(m),
                m.PatternKey, m.Incident!.Source, m.Incident.SampleMessage, m.Incident.Count,
                m.Contract?.Description ?? "", m.Contract?.BaselineValue,
                m.Snapshots.OrderByDescending(x => x.TakenAt).FirstOrDefault()?.Summary,
                forApprovers is null ? null : ApprovedAgainst(forApprovers),
                m.Approval!.Decisions.Count(d => d.Verdict == ApprovalVerdict.Approve), m.Approval.RequiredCount,
                m.Approval.Decisions.Where(d => d.Verdict == ApprovalVerdict.Approve).Select(d => d.UserName).ToList(),
                m.RequestedBy, m.Approval.RequestedAt, m.Approval.ExpiresAt,
                s?.Runs ?? 0, s?.SuccessRate ?? 0, s?.Confidence ?? 0,
                m.Contract is { } c && executors.Probes.TryGetValue(c.Probe, out var probe) ? probe.Unit : null);
        }).ToList();
    }

    private static string? ApprovedAgainst(Data.Entities.Snapshot row)
    {
        try
        {
            return SnapshotService.Read(row).ApprovedAgainst;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private string Impact(Mission mission)
    {
        try
        {
            return executors.Executor(mission.Action).Describe(snapshots.RequestFor(mission));
        }
        catch (Exception ex) when (ex is InvalidOperationException or KeyNotFoundException)
        {
            return $"{mission.Action} on {mission.Target}";
        }
    }

    public async Task<(IReadOnlyList<MissionSummary> Items, int Total)> MissionsAsync(MissionQuery query, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var missions = db.Missions.AsNoTracking();
        if (query.IncidentId is { } incidentId)
        {
            // Its own missions and those that covered it, as the incident's page lists them.
            var covering = db.MissionEvents.Where(e => e.IncidentId == incidentId && e.Kind == MissionPlanner.CoversEvent).Select(e => e.MissionId);
            missions = missions.Where(m => m.IncidentId == incidentId || covering.Contains(m.Id));
        }

        if (query.State is { } state)
        {
            missions = missions.Where(m => m.State == state);
        }

        if (!string.IsNullOrWhiteSpace(query.Search))
        {
            // Lower-cased on both sides: case-insensitive on SQLite and PostgreSQL alike (LIKE is not, on PostgreSQL).
            var text = query.Search.Trim().ToLowerInvariant();
            missions = missions.Where(m => m.PlaybookKey.ToLower().Contains(text) || m.Target.ToLower().Contains(text) || m.PatternKey.ToLower().Contains(text)
                || m.Incident!.Source.ToLower().Contains(text));
        }

        var total = await missions.CountAsync(cancellationToken);
        missions = (query.SortBy, query.Descending) switch
        {
            ("playbook", false) => missions.OrderBy(m => m.PlaybookKey),
            ("playbook", true) => missions.OrderByDescending(m => m.PlaybookKey),
            ("target", false) => missions.OrderBy(m => m.Target),
            ("target", true) => missions.OrderByDescending(m => m.Target),
            ("state", false) => missions.OrderBy(m => m.State),
            ("state", true) => missions.OrderByDescending(m => m.State),
            ("tier", false) => missions.OrderBy(m => m.Tier),
            ("tier", true) => missions.OrderByDescending(m => m.Tier),
            ("updated", false) => missions.OrderBy(m => m.UpdatedAt),
            ("updated", true) => missions.OrderByDescending(m => m.UpdatedAt),
            (_, false) => missions.OrderBy(m => m.CreatedAt),
            _ => missions.OrderByDescending(m => m.CreatedAt),
        };
        var items = await missions.Skip(query.Page * query.PageSize).Take(query.PageSize)
            .Select(m => new MissionSummary(m.Id, m.PlaybookKey, m.PatternKey, m.Target, m.Tier, m.State, m.Stage, m.CreatedAt, m.UpdatedAt, m.StatusReason, m.Incident!.Source, m.IncidentId))
            .ToListAsync(cancellationToken);
        return (items, total);
    }

    public async Task<(IReadOnlyList<Incident> Items, int Total)> IncidentsAsync(IncidentQuery query, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var incidents = db.Incidents.AsNoTracking();
        if (query.OpenOnly)
        {
            incidents = incidents.Where(i => i.Status != IncidentStatus.Resolved);
        }

        if (query.Status is { } status)
        {
            incidents = incidents.Where(i => i.Status == status);
        }

        if (!string.IsNullOrWhiteSpace(query.Search))
        {
            var text = query.Search.Trim().ToLowerInvariant();
            incidents = incidents.Where(i => i.SampleMessage.ToLower().Contains(text) || i.Source.ToLower().Contains(text)
                || i.Fingerprint.ToLower().Contains(text) || (i.PatternKey != null && i.PatternKey.ToLower().Contains(text)));
        }

        var total = await incidents.CountAsync(cancellationToken);
        var items = await incidents.OrderByDescending(i => i.LastSeenAt).Skip(query.Page * query.PageSize).Take(query.PageSize).ToListAsync(cancellationToken);
        return (items, total);
    }

    public async Task<IReadOnlyList<PlaybookStatistics>> StatisticsAsync(CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.PlaybookStatistics.AsNoTracking().OrderBy(s => s.PatternKey).ThenByDescending(s => s.Confidence).ToListAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<OutcomeRecord>> OutcomesAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Outcomes.AsNoTracking().Where(o => o.At >= since).OrderBy(o => o.At).ToListAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<BenchmarkRun>> BenchmarksAsync(Guid missionId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.BenchmarkRuns.AsNoTracking().Where(b => b.MissionId == missionId).OrderBy(b => b.At).ToListAsync(cancellationToken);
    }

    public async Task<(IReadOnlyList<AuditEntry> Items, int Total)> AuditAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var entries = db.AuditEntries.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(query.Search))
        {
            var text = query.Search.Trim().ToLowerInvariant();
            entries = entries.Where(a => a.Actor.ToLower().Contains(text) || a.Action.ToLower().Contains(text) || a.Subject.ToLower().Contains(text));
        }

        var total = await entries.CountAsync(cancellationToken);
        var items = await entries.OrderByDescending(a => a.Id).Skip(query.Page * query.PageSize).Take(query.PageSize).ToListAsync(cancellationToken);
        return (items, total);
    }
}
#pragma warning restore CA1862
