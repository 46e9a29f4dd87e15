using System.Globalization;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Notifications.Outbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Learn;

/// <summary>A playbook's record, what the rule makes of it, its open suggestion and its shadow statistics: what the Learning page shows.</summary>
public sealed record PlaybookTrust(
    string PlaybookKey,
    TrustAssessment Assessment,
    TierSuggestion? Suggestion,
    TierSuggestion? Earned,
    bool Shadow,
    ShadowStatistics ShadowStats,
    IReadOnlyList<PatternTrust> Patterns);

/// <summary>The same rule on the record of one playbook for one pattern (evidence; tiers are per playbook).</summary>
public sealed record PatternTrust(string PatternKey, TrustAssessment Assessment);

/// <summary>Shadow recordings of one playbook and what people did afterwards.</summary>
public sealed record ShadowStatistics(int WouldHaveActed, int Agreed, int Disagreed, int HealedWithoutAction, int Pending, int NoVerdict)
{
    private int Judged => Agreed + Disagreed + HealedWithoutAction;

    /// <summary>Agreed over the recordings people judged (agreed, disagreed, healed alone); null before any.</summary>
    public double? AgreementRate => Judged == 0 ? null : (double)Agreed / Judged;

    /// <summary>How often the incident healed with no action at all: the action would have been unnecessary.</summary>
    public double? HealedWithoutActionRate => Judged == 0 ? null : (double)HealedWithoutAction / Judged;
}

/// <summary>
/// Earned autonomy: turns each playbook's record (its real runs and its judged shadow recordings)
/// into a tier suggestion that a Lead or Admin accepts or declines (Grace never lowers a tier on
/// its own), and takes the earned trust back at once when such a playbook fails or rolls back.
/// </summary>
public sealed class TrustService(
    IDbContextFactory<GraceDbContext> dbFactory,
    IOptionsMonitor<AutonomyOptions> options,
    IOptionsMonitor<CatalogOptions> catalog,
    PlaybookTiers tiers,
    Audit.AuditTrail audit,
    NotificationOutbox outbox,
    TimeProvider time,
    ILogger<TrustService> logger)
{
    /// <summary>The record of a playbook (for one pattern, when given), oldest first.</summary>
    public static async Task<List<RunEvidence>> RecordAsync(GraceDbContext db, string playbookKey, string? patternKey, CancellationToken cancellationToken)
    {
        // Only actions that ran teach anything; a contract that held before the action proves nothing.
        var real = await db.Outcomes.AsNoTracking()
            .Where(o => o.PlaybookKey == playbookKey && (patternKey == null || o.PatternKey == patternKey))
            .Join(db.Missions.Where(m => m.ExecutedAt != null && !m.DryRun && !m.Shadow && m.ContractAtPlan != ContractPrecheck.AlreadyHeld),
                o => o.MissionId, m => m.Id, (o, m) => new { o.At, o.Success, o.RolledBack })
            .ToListAsync(cancellationToken);
        var shadow = await db.Missions.AsNoTracking()
            .Where(m => m.PlaybookKey == playbookKey && (patternKey == null || m.PatternKey == patternKey) && m.Shadow && m.ShadowVerdictAt != null
                && (m.ShadowVerdict == ShadowVerdict.Agreed || m.ShadowVerdict == ShadowVerdict.Disagreed || m.ShadowVerdict == ShadowVerdict.HealedWithoutAction))
            .Select(m => new { At = m.ShadowVerdictAt!.Value, m.ShadowVerdict })
            .ToListAsync(cancellationToken);
        return real.Select(r => new RunEvidence(r.At, r.Success ? EvidenceKind.Success : r.RolledBack ? EvidenceKind.RolledBack : EvidenceKind.Failure))
            .Concat(shadow.Select(s => new RunEvidence(s.At, s.ShadowVerdict switch
            {
                ShadowVerdict.Agreed => EvidenceKind.ShadowAgreed,
                ShadowVerdict.Disagreed => EvidenceKind.ShadowDisagreed,
                _ => EvidenceKind.ShadowHealedWithoutAction,
            })))
            // Two sources merged into one record, in time order.
            .OrderBy(r => r.At)
            .ToList();
    }

    /// <summary>The rule applied to a playbook's whole record at its tier now.</summary>
    public async Task<TrustAssessment> AssessAsync(GraceDbContext db, string playbookKey, CancellationToken cancellationToken) =>
        TrustRule.Assess(await RecordAsync(db, playbookKey, null, cancellationToken), await tiers.TierOfAsync(db, playbookKey, cancellationToken), options.CurrentValue.TierSuggestions);

    /// <summary>
    /// Brings a playbook's open suggestion in line with its record, in the caller's unit of work: a
    /// record that clears the bar gets one (unless a Lead declined one lately), one that no longer
    /// does loses it. Returns the open suggestion, if any.
    /// </summary>
    public async Task<TierSuggestion?> RefreshAsync(GraceDbContext db, string playbookKey, CancellationToken cancellationToken)
    {
        if (!catalog.CurrentValue.Playbooks.ContainsKey(playbookKey))
        {
            return null;
        }

        var rule = options.CurrentValue.TierSuggestions;
        var assessment = await AssessAsync(db, playbookKey, cancellationToken);
        var now = time.GetUtcNow();
        var open = await db.TierSuggestions.Where(t => t.PlaybookKey == playbookKey && t.Status == TierSuggestionStatus.Open).ToListAsync(cancellationToken);
        TierSuggestion? kept = null;
        foreach (var suggestion in open)
        {
            // Still right: the same tier, still clearing the bar. The evidence shown is kept current.
            if (kept is null && assessment.Eligible && suggestion.FromTier == assessment.Tier)
            {
                Fill(suggestion, assessment);
                kept = suggestion;
                continue;
            }

            suggestion.Status = TierSuggestionStatus.Withdrawn;
            suggestion.DecidedAt = now;
            suggestion.DecidedBy = Actor.EngineName;
            suggestion.Reason = ColumnLimits.Shorten(suggestion.FromTier != assessment.Tier
                ? $"The tier changed to {assessment.Tier} since the suggestion was made."
                : $"The record no longer clears the bar: {assessment.Distance}", ColumnLimits.ShortText);
        }

        if (kept is not null || !assessment.Eligible)
        {
            return kept;
        }

        // A Lead said no: the same step is suggested again only once the record has grown by RollbackFreeRuns runs since.
        var declined = await db.TierSuggestions.AsNoTracking()
            .Where(t => t.PlaybookKey == playbookKey && t.Status == TierSuggestionStatus.Declined && t.FromTier == assessment.Tier)
            .Select(t => (int?)t.Runs).MaxAsync(cancellationToken);
        if (declined is { } runsThen && assessment.Runs < runsThen + Math.Max(1, rule.RollbackFreeRuns))
        {
            return null;
        }

        var created = new TierSuggestion
        {
            Id = Guid.CreateVersion7(now),
            PlaybookKey = playbookKey,
            FromTier = assessment.Tier,
            ToTier = assessment.SuggestedTier!.Value,
            Status = TierSuggestionStatus.Open,
            CreatedAt = now,
        };
        Fill(created, assessment);
        db.TierSuggestions.Add(created);
        logger.LogInformation("Playbook {Playbook} earned a tier suggestion {From} → {To}: {Distance}", playbookKey, created.FromTier, created.ToTier, assessment.Distance);
        return created;
    }

    /// <summary>
    /// Trust decay, in the caller's unit of work (the mission's learning): a counted run of a playbook
    /// whose tier was lowered through an accepted suggestion failed or rolled back, so the tier goes
    /// back up at once, on the mission's timeline, in the audit log and to the notification channels.
    /// Returns the line for the timeline, or null when nothing was revoked.
    /// </summary>
    public async Task<string?> DecayAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        if (mission.State is not (MissionState.Failed or MissionState.RolledBack) || !catalog.CurrentValue.Playbooks.ContainsKey(mission.PlaybookKey))
        {
            return null;
        }

        var earned = await db.TierSuggestions
            .Where(t => t.PlaybookKey == mission.PlaybookKey && t.Status == TierSuggestionStatus.Accepted)
            .ToListAsync(cancellationToken);
        var current = await tiers.TierOfAsync(db, mission.PlaybookKey, cancellationToken);
        // The latest grant whose lowered tier is still in force (a Lead's own later change is theirs to keep).
        var grant = earned.Where(t => t.ToTier == current).OrderByDescending(t => t.DecidedAt).FirstOrDefault();
        if (grant is null)
        {
            return null;
        }

        var now = time.GetUtcNow();
        await tiers.ApplyAsync(db, mission.PlaybookKey, grant.FromTier, Actor.EngineName, cancellationToken);
        grant.Status = TierSuggestionStatus.Revoked;
        grant.RevokedAt = now;
        grant.RevokedByMissionId = mission.Id;
        var what = mission.State == MissionState.RolledBack ? "rolled back" : "failed";
        var reason = string.Create(CultureInfo.InvariantCulture,
            $"Trust revoked: playbook '{mission.PlaybookKey}' {what} (mission {mission.Id}{(mission.StatusReason is { Length: > 0 } r ? $": {r}" : "")}) while on tier {grant.ToTier}, "
            + $"earned on {grant.Runs} runs (lower bound {grant.LowerBound:0.00}) and accepted by {grant.DecidedBy}. Its tier is back to {grant.FromTier} at once; it must earn the lower tier again.");
        audit.Add(db, Actor.EngineName, "playbook.tier.revoked", $"playbook/{mission.PlaybookKey}",
            $"tier {grant.ToTier} → {grant.FromTier}: {reason}", null, now);
        await outbox.AddTrustRevokedAsync(db, mission, grant.ToTier, grant.FromTier, reason, cancellationToken);
        logger.LogWarning("{Reason}", reason);
        return reason;
    }

    /// <summary>Accepts an open suggestion: the playbook's tier is lowered (Leads and Admins only; audited with the evidence).</summary>
    public Task<TierSuggestion> AcceptAsync(Guid id, Actor actor, string? reason, CancellationToken cancellationToken) =>
        DecideAsync(id, actor, accept: true, reason, cancellationToken);

    /// <summary>Declines an open suggestion: the tier stays (Leads and Admins only; a reason is required; audited with the evidence).</summary>
    public Task<TierSuggestion> DeclineAsync(Guid id, Actor actor, string? reason, CancellationToken cancellationToken) =>
        DecideAsync(id, actor, accept: false, reason, cancellationToken);

    private async Task<TierSuggestion> DecideAsync(Guid id, Actor actor, bool accept, string? reason, CancellationToken cancellationToken)
    {
        if (!actor.CanChangePolicy)
        {
            throw new MissionOperationException($"{actor.Name} may not decide on tier suggestions: it needs the {string.Join(" or ", RolePermissions.RolesFor(Permission.ChangePolicy))} role.", forbidden: true);
        }

        if (!accept && string.IsNullOrWhiteSpace(reason))
        {
            throw new MissionOperationException("Declining a suggestion needs a reason.", field: "reason");
        }

        if (reason is { Length: > ColumnLimits.ShortText })
        {
            throw new MissionOperationException($"reason must be at most {ColumnLimits.ShortText} characters.", field: "reason");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var suggestion = await db.TierSuggestions.SingleOrDefaultAsync(t => t.Id == id, cancellationToken)
            ?? throw new MissionOperationException($"Tier suggestion {id} does not exist.", notFound: true);
        if (suggestion.Status != TierSuggestionStatus.Open)
        {
            throw new MissionOperationException($"Tier suggestion {id} is {suggestion.Status}, not open.");
        }

        if (!catalog.CurrentValue.Playbooks.ContainsKey(suggestion.PlaybookKey))
        {
            throw new MissionOperationException($"Playbook '{suggestion.PlaybookKey}' is no longer configured.");
        }

        var current = await tiers.TierOfAsync(db, suggestion.PlaybookKey, cancellationToken);
        if (current != suggestion.FromTier)
        {
            throw new MissionOperationException($"Playbook '{suggestion.PlaybookKey}' is on tier {current} now, not {suggestion.FromTier} as when the suggestion was made; it will be looked at again.");
        }

        // The evidence as it is at the decision, so the audit log says what the person saw.
        if (accept)
        {
            var now = await AssessAsync(db, suggestion.PlaybookKey, cancellationToken);
            if (!now.Eligible)
            {
                throw new MissionOperationException($"The record of '{suggestion.PlaybookKey}' no longer clears the bar: {now.Distance}");
            }

            Fill(suggestion, now);
        }

        suggestion.Status = accept ? TierSuggestionStatus.Accepted : TierSuggestionStatus.Declined;
        suggestion.DecidedBy = actor.Name;
        suggestion.DecidedAt = time.GetUtcNow();
        suggestion.Reason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
        if (accept)
        {
            await tiers.ApplyAsync(db, suggestion.PlaybookKey, suggestion.ToTier, actor.Name, cancellationToken);
        }

        audit.Add(db, actor, accept ? "playbook.tier-suggestion.accept" : "playbook.tier-suggestion.decline", $"playbook/{suggestion.PlaybookKey}",
            $"tier {suggestion.FromTier} → {suggestion.ToTier} {(accept ? "accepted" : "declined")}. {Evidence(suggestion)}" + (suggestion.Reason is { } why ? $" Reason: {why}" : ""));
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            throw new MissionOperationException("Someone else decided on this suggestion at the same moment; reload and try again.");
        }

        return suggestion;
    }

    /// <summary>The evidence in words, as the audit log keeps it.</summary>
    public static string Evidence(TierSuggestion s) => string.Create(CultureInfo.InvariantCulture,
        $"Evidence: {s.Runs} runs, {s.Successes} successes ({s.ShadowAgreements} of them shadow agreements), lower bound {s.LowerBound:0.000}, "
        + $"{s.RunsSinceRollback} runs since the last rollback ({(s.LastRollbackAt is { } at ? at.ToString("u", CultureInfo.InvariantCulture) : "none")}).");

    /// <summary>Every configured playbook's record, assessment, suggestion and shadow statistics.</summary>
    public async Task<IReadOnlyList<PlaybookTrust>> OverviewAsync(ShadowMode shadow, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var open = await db.TierSuggestions.AsNoTracking().Where(t => t.Status == TierSuggestionStatus.Open || t.Status == TierSuggestionStatus.Accepted).ToListAsync(cancellationToken);
        var patterns = await db.Outcomes.AsNoTracking().Select(o => new { o.PlaybookKey, o.PatternKey }).Distinct().ToListAsync(cancellationToken);
        var stats = await ShadowMode.StatisticsAsync(db, cancellationToken);
        var shadowed = await shadow.EffectiveAsync(db, cancellationToken);
        var rule = options.CurrentValue.TierSuggestions;
        var result = new List<PlaybookTrust>();
        foreach (var key in catalog.CurrentValue.Playbooks.Keys.Order(StringComparer.OrdinalIgnoreCase))
        {
            var tier = await tiers.TierOfAsync(db, key, cancellationToken);
            var assessment = TrustRule.Assess(await RecordAsync(db, key, null, cancellationToken), tier, rule);
            var perPattern = new List<PatternTrust>();
            foreach (var pattern in patterns.Where(p => string.Equals(p.PlaybookKey, key, StringComparison.OrdinalIgnoreCase)).Select(p => p.PatternKey).Distinct().Order(StringComparer.Ordinal))
            {
                perPattern.Add(new PatternTrust(pattern, TrustRule.Assess(await RecordAsync(db, key, pattern, cancellationToken), tier, rule)));
            }

            result.Add(new PlaybookTrust(key, assessment,
                open.Where(t => t.PlaybookKey == key && t.Status == TierSuggestionStatus.Open).OrderByDescending(t => t.CreatedAt).FirstOrDefault(),
                open.Where(t => t.PlaybookKey == key && t.Status == TierSuggestionStatus.Accepted && t.ToTier == tier).OrderByDescending(t => t.DecidedAt).FirstOrDefault(),
                shadowed.Contains(key),
                stats.GetValueOrDefault(key) ?? new ShadowStatistics(0, 0, 0, 0, 0, 0),
                perPattern));
        }

        return result;
    }

    private static void Fill(TierSuggestion s, TrustAssessment a)
    {
        s.Runs = a.Runs;
        s.Successes = a.Successes;
        s.ShadowAgreements = a.ShadowAgreements;
        s.LowerBound = a.LowerBound;
        s.RunsSinceRollback = a.RunsSinceRollback;
        s.LastRollbackAt = a.LastRollbackAt;
    }
}
