using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Missions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Learn;

/// <summary>
/// Shadow mode: which playbooks run in shadow (the catalog's <c>Shadow</c> on the playbook or its
/// pattern, or a Lead's runtime toggle, which wins), and the verdict on each shadow recording once
/// people act on the same incident: the same playbook run or approved (agreed), another one run or
/// approved, or this one rejected (disagreed), or the incident resolved with no action at all
/// (healed without action). Verdicts feed the playbook's record and so its tier suggestions.
/// </summary>
public sealed class ShadowMode(
    IDbContextFactory<GraceDbContext> dbFactory,
    IOptionsMonitor<CatalogOptions> catalog,
    TrustService trust,
    Audit.AuditTrail audit,
    MissionJournal journal,
    TimeProvider time,
    ILogger<ShadowMode> logger)
{
    private const string Prefix = "playbook-shadow:";

    /// <summary>Whether a mission of this playbook for this pattern runs in shadow (a person's "run now" never does: they chose to act).</summary>
    public async Task<bool> IsShadowAsync(GraceDbContext db, string playbookKey, string patternKey, CancellationToken cancellationToken)
    {
        var setting = await db.EngineSettings.AsNoTracking().SingleOrDefaultAsync(s => s.Key == Prefix + playbookKey, cancellationToken);
        return IsShadow(playbookKey, patternKey, setting?.Value);
    }

    /// <summary>The engine setting that holds a Lead's runtime shadow toggle of a playbook.</summary>
    public static string SettingKey(string playbookKey) => Prefix + playbookKey;

    /// <summary>Whether a playbook runs in shadow, from its toggle's value (read by the caller, e.g. with others in one query), or as configured when it has none.</summary>
    public bool IsShadow(string playbookKey, string patternKey, string? setting)
    {
        if (setting is not null)
        {
            return setting == bool.TrueString;
        }

        var c = catalog.CurrentValue;
        return (c.Playbooks.TryGetValue(playbookKey, out var playbook) && playbook.Shadow)
            || (c.Patterns.TryGetValue(patternKey, out var pattern) && pattern.Shadow);
    }

    /// <summary>The playbooks in shadow by themselves (catalog or toggle; a pattern's shadow shows on its missions).</summary>
    public async Task<HashSet<string>> EffectiveAsync(GraceDbContext db, CancellationToken cancellationToken)
    {
        var overrides = (await db.EngineSettings.AsNoTracking().Where(s => s.Key.StartsWith(Prefix)).ToListAsync(cancellationToken))
            .ToDictionary(s => s.Key[Prefix.Length..], s => s.Value == bool.TrueString, StringComparer.OrdinalIgnoreCase);
        return catalog.CurrentValue.Playbooks
            .Where(p => overrides.TryGetValue(p.Key, out var on) ? on : p.Value.Shadow)
            .Select(p => p.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Turns shadow mode on or off for a playbook at runtime. Leads and Admins only; the reason is required and audited.</summary>
    public async Task SetAsync(string playbookKey, bool on, Actor actor, string? reason, CancellationToken cancellationToken)
    {
        if (!actor.CanChangePolicy)
        {
            throw new MissionOperationException($"{actor.Name} may not change shadow mode: it needs the {string.Join(" or ", RolePermissions.RolesFor(Permission.ChangePolicy))} role.", forbidden: true);
        }

        if (!catalog.CurrentValue.Playbooks.TryGetValue(playbookKey, out var playbook))
        {
            throw new MissionOperationException($"Playbook '{playbookKey}' is not configured.", notFound: true);
        }

        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new MissionOperationException("Changing shadow mode needs a reason.", field: "reason");
        }

        if (reason.Length > ColumnLimits.ShortText)
        {
            throw new MissionOperationException($"reason must be at most {ColumnLimits.ShortText} characters.", field: "reason");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var key = Prefix + playbookKey;
        var setting = await db.EngineSettings.SingleOrDefaultAsync(s => s.Key == key, cancellationToken);
        var before = setting is not null ? setting.Value == bool.TrueString : playbook.Shadow;
        if (setting is null)
        {
            setting = new EngineSetting { Key = key, Value = "", UpdatedBy = actor.Name };
            db.EngineSettings.Add(setting);
        }

        setting.Value = on ? bool.TrueString : bool.FalseString;
        setting.UpdatedAt = time.GetUtcNow();
        setting.UpdatedBy = actor.Name;
        audit.Add(db, actor, "playbook.shadow", $"playbook/{playbookKey}", $"shadow {(before ? "on" : "off")} → {(on ? "on" : "off")}: {reason.Trim()}");
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>Shadow recordings per playbook, by verdict.</summary>
    public static async Task<Dictionary<string, ShadowStatistics>> StatisticsAsync(GraceDbContext db, CancellationToken cancellationToken)
    {
        var rows = await db.Missions.AsNoTracking().Where(m => m.Shadow && m.State == MissionState.ShadowRecorded)
            .GroupBy(m => new { m.PlaybookKey, m.ShadowVerdict })
            .Select(g => new { g.Key.PlaybookKey, g.Key.ShadowVerdict, Count = g.Count() })
            .ToListAsync(cancellationToken);
        return rows.GroupBy(r => r.PlaybookKey, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g =>
        {
            int Of(ShadowVerdict v) => g.Where(r => r.ShadowVerdict == v).Sum(r => r.Count);
            return new ShadowStatistics(g.Sum(r => r.Count), Of(ShadowVerdict.Agreed), Of(ShadowVerdict.Disagreed), Of(ShadowVerdict.HealedWithoutAction), Of(ShadowVerdict.Pending), Of(ShadowVerdict.NoVerdict));
        }, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Judges the shadow recordings still pending against what happened on their incident since
    /// (the sweep calls it). Read from the database alone, so every way people act or an incident
    /// resolves is seen, across restarts and instances. Returns how many were judged.
    /// </summary>
    public async Task<int> JudgeAsync(CancellationToken cancellationToken)
    {
        List<Guid> pending;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            pending = await db.Missions.AsNoTracking().Where(m => m.ShadowVerdict == ShadowVerdict.Pending).OrderBy(m => m.Id).Select(m => m.Id).Take(200).ToListAsync(cancellationToken);
        }

        var judged = 0;
        foreach (var id in pending)
        {
            try
            {
                judged += await JudgeOneAsync(id, cancellationToken) ? 1 : 0;
            }
            catch (DbUpdateConcurrencyException)
            {
                // Moved by another instance's sweep in the same instant: judged there.
            }
        }

        return judged;
    }

    private async Task<bool> JudgeOneAsync(Guid missionId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var shadow = await db.Missions.SingleAsync(m => m.Id == missionId, cancellationToken);
        if (shadow.ShadowVerdict != ShadowVerdict.Pending)
        {
            return false;
        }

        // What people did afterwards on the same incident: missions planned after this one, oldest first.
        var later = (await db.Missions.AsNoTracking().Include(m => m.Approval).ThenInclude(a => a!.Decisions)
                .Where(m => m.IncidentId == shadow.IncidentId && m.Id != shadow.Id && !m.Shadow)
                .ToListAsync(cancellationToken))
            .Where(m => m.CreatedAt >= shadow.CreatedAt)
            .OrderBy(m => m.CreatedAt).ToList();
        (ShadowVerdict Verdict, string Why)? verdict = null;
        foreach (var m in later)
        {
            var same = string.Equals(m.PlaybookKey, shadow.PlaybookKey, StringComparison.OrdinalIgnoreCase);
            var people = m.Approval?.Decisions.Where(d => d.UserName != Actor.EngineName).ToList() ?? [];
            if (m.Origin == MissionOrigin.Person)
            {
                verdict = same
                    ? (ShadowVerdict.Agreed, $"{m.RequestedBy} ran the same playbook on the incident (mission {m.Id}).")
                    : (ShadowVerdict.Disagreed, $"{m.RequestedBy} ran '{m.PlaybookKey}' instead (mission {m.Id}).");
            }
            else if (m.Approval is { Status: ApprovalStatus.Approved })
            {
                var who = string.Join(", ", people.Where(d => d.Verdict == ApprovalVerdict.Approve).Select(d => d.UserName));
                verdict = same
                    ? (ShadowVerdict.Agreed, $"{who} approved the same playbook on the incident (mission {m.Id}).")
                    : (ShadowVerdict.Disagreed, $"{who} approved '{m.PlaybookKey}' instead (mission {m.Id}).");
            }
            else if (m.Approval is { Status: ApprovalStatus.Rejected } && same)
            {
                var who = people.FirstOrDefault(d => d.Verdict == ApprovalVerdict.Reject);
                verdict = (ShadowVerdict.Disagreed, $"{who?.UserName} rejected the same playbook on the incident (mission {m.Id}): {who?.Reason}");
            }

            if (verdict is not null)
            {
                break;
            }
        }

        if (verdict is null)
        {
            var incident = await db.Incidents.AsNoTracking().SingleAsync(i => i.Id == shadow.IncidentId, cancellationToken);
            if (incident.Status != IncidentStatus.Resolved)
            {
                return false; // Nobody has acted yet.
            }

            var acted = later.FirstOrDefault(m => m.ExecutedAt is not null);
            var resolvedBy = await db.IncidentEvents.AsNoTracking()
                .Where(e => e.IncidentId == incident.Id && e.Kind == IncidentEventKind.Resolved)
                .OrderByDescending(e => e.Id).Select(e => e.Actor).FirstOrDefaultAsync(cancellationToken);
            verdict = acted is not null
                ? (ShadowVerdict.NoVerdict, $"Mission {acted.Id} ('{acted.PlaybookKey}') acted on the incident without people deciding: no verdict.")
                : resolvedBy is null || resolvedBy == Actor.EngineName
                    ? (ShadowVerdict.HealedWithoutAction, "The incident resolved with no action at all: the action would have been unnecessary.")
                    : (ShadowVerdict.NoVerdict, $"{resolvedBy} resolved the incident by hand: what they did outside Grace is not known, so no verdict.");
        }

        var (v, why) = verdict.Value;
        shadow.ShadowVerdict = v;
        shadow.ShadowVerdictAt = time.GetUtcNow();
        var entry = journal.Begin(db, shadow);
        entry.Record(PipelineStage.Learn, "shadow-verdict", $"Shadow verdict: {v}. {why}", data: new { verdict = v.ToString() });
        // Saved first, so the record the suggestion is refreshed from includes this verdict.
        await entry.SaveAsync(cancellationToken);
        await trust.RefreshAsync(db, shadow.PlaybookKey, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        logger.LogInformation("Shadow mission {MissionId} ({Playbook}): {Verdict}. {Why}", shadow.Id, shadow.PlaybookKey, v, why);
        return true;
    }
}
