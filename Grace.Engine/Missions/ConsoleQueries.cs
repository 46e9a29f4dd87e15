using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Gate;
using Grace.Engine.Snapshot;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Missions;

/// <summary>What needs a human now and what is moving, for the overview.</summary>
public sealed record OverviewFigures(int PendingApprovals, int MissionsInTrouble, int MissionsRunning, int OpenIncidents, bool KillSwitchEngaged,
    IReadOnlyList<MissionSummary> Trouble, IReadOnlyDictionary<MissionState, int> TroubleByState, IReadOnlyList<Incident> NeedsHuman);

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

/// <summary>A filter, sort and page of the missions list.</summary>
public sealed record MissionQuery(MissionState? State = null, string? Search = null, string SortBy = "created", bool Descending = true, int Page = 0, int PageSize = 25);

/// <summary>
/// Read models for the console: one short-lived, untracked context per query. Writes go through
/// the engine's services, which enforce the rules.
/// </summary>
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
        var byState = (await db.Missions.AsNoTracking()
            .Where(m => Trouble.Contains(m.State) && m.UpdatedAt > since)
            .GroupBy(m => m.State).Select(g => new { g.Key, Count = g.Count() })
            .ToListAsync(cancellationToken)).ToDictionary(g => g.Key, g => g.Count);
        var trouble = await db.Missions.AsNoTracking()
            .Where(m => Trouble.Contains(m.State) && m.UpdatedAt > since)
            .OrderByDescending(m => m.UpdatedAt).Take(20)
            .Select(m => new MissionSummary(m.Id, m.PlaybookKey, m.PatternKey, m.Target, m.Tier, m.State, m.Stage, m.CreatedAt, m.UpdatedAt, m.StatusReason, m.Incident!.Source))
            .ToListAsync(cancellationToken);
        var needsHuman = await db.Incidents.AsNoTracking()
            .Where(i => i.NeedsHuman && i.Status != IncidentStatus.Resolved)
            .OrderByDescending(i => i.NeedsHumanAt).Take(50)
            .ToListAsync(cancellationToken);
        return new OverviewFigures(pending, byState.Values.Sum(), running, open, await killSwitch.IsEngagedAsync(cancellationToken), trouble, byState, needsHuman);
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
        if (query.State is { } state)
        {
            missions = missions.Where(m => m.State == state);
        }

        if (!string.IsNullOrWhiteSpace(query.Search))
        {
            var text = query.Search.Trim();
            missions = missions.Where(m => m.PlaybookKey.Contains(text) || m.Target.Contains(text) || m.PatternKey.Contains(text) || m.Incident!.Source.Contains(text));
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
            .Select(m => new MissionSummary(m.Id, m.PlaybookKey, m.PatternKey, m.Target, m.Tier, m.State, m.Stage, m.CreatedAt, m.UpdatedAt, m.StatusReason, m.Incident!.Source))
            .ToListAsync(cancellationToken);
        return (items, total);
    }

    public async Task<IReadOnlyList<Incident>> IncidentsAsync(bool openOnly, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var incidents = db.Incidents.AsNoTracking();
        if (openOnly)
        {
            incidents = incidents.Where(i => i.Status != IncidentStatus.Resolved);
        }

        return await incidents.OrderByDescending(i => i.LastSeenAt).Take(500).ToListAsync(cancellationToken);
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

    public async Task<(IReadOnlyList<AuditEntry> Items, int Total)> AuditAsync(int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var total = await db.AuditEntries.CountAsync(cancellationToken);
        var items = await db.AuditEntries.AsNoTracking().OrderByDescending(a => a.Id).Skip(page * pageSize).Take(pageSize).ToListAsync(cancellationToken);
        return (items, total);
    }
}
