using System.Globalization;
using Grace.Engine.Configuration;
using Grace.Engine.Formatting;

namespace Grace.Engine.Learn;

/// <summary>What one piece of a playbook's record says.</summary>
public enum EvidenceKind
{
    /// <summary>A real run whose contract held.</summary>
    Success,
    /// <summary>A real run that failed (its action, or its rollback).</summary>
    Failure,
    /// <summary>A real run whose contract (or a benchmark) failed and was rolled back.</summary>
    RolledBack,
    /// <summary>A shadow recording people agreed with: counts as a success.</summary>
    ShadowAgreed,
    /// <summary>A shadow recording people did otherwise than: counts as a run without success.</summary>
    ShadowDisagreed,
    /// <summary>A shadow recording whose incident healed without any action: the action would have been unnecessary, so not a success.</summary>
    ShadowHealedWithoutAction,
}

/// <summary>One piece of a playbook's record, in time order.</summary>
public readonly record struct RunEvidence(DateTimeOffset At, EvidenceKind Kind)
{
    public bool IsSuccess => Kind is EvidenceKind.Success or EvidenceKind.ShadowAgreed;

    /// <summary>A rollback or a failure: what the "no rollback in the last M runs" part of the rule looks for.</summary>
    public bool IsRollback => Kind is EvidenceKind.Failure or EvidenceKind.RolledBack;
}

/// <summary>A playbook's record judged against the rule, and how far it is from the next tier.</summary>
public sealed record TrustAssessment(
    int Tier,
    int Runs,
    int Successes,
    int ShadowAgreements,
    double LowerBound,
    int RunsSinceRollback,
    DateTimeOffset? LastRollbackAt,
    int? SuggestedTier,
    int MoreSuccessesNeeded,
    string Distance)
{
    /// <summary>The record clears the bar: a lower tier may be suggested.</summary>
    public bool Eligible => SuggestedTier is not null;
}

/// <summary>
/// The rule that turns a record into a tier suggestion. Pure, so its boundaries are unit-tested:
/// a playbook earns one tier lower only when, over at least <c>MinRuns</c> runs, the Wilson lower
/// bound of its success rate reaches <c>MinWilsonLowerBound</c> and none of its last
/// <c>RollbackFreeRuns</c> runs rolled back or failed.
/// </summary>
public static class TrustRule
{
    private const int SearchLimit = 100_000;

    public static TrustAssessment Assess(IReadOnlyList<RunEvidence> record, int tier, TierSuggestionOptions rule)
    {
        var runs = record.Count;
        var successes = record.Count(r => r.IsSuccess);
        var agreements = record.Count(r => r.Kind == EvidenceKind.ShadowAgreed);
        var lastRollback = -1;
        for (var i = record.Count - 1; i >= 0; i--)
        {
            if (record[i].IsRollback)
            {
                lastRollback = i;
                break;
            }
        }

        var sinceRollback = lastRollback < 0 ? runs : runs - lastRollback - 1;
        DateTimeOffset? lastRollbackAt = lastRollback < 0 ? null : record[lastRollback].At;
        var bound = LearningService.WilsonLowerBound(successes, runs);

        if (tier <= 0)
        {
            return new TrustAssessment(tier, runs, successes, agreements, bound, sinceRollback, lastRollbackAt, null, 0, "Tier 0 already: there is no lower tier to earn.");
        }

        var more = MoreSuccessesNeeded(runs, successes, sinceRollback, lastRollback >= 0, rule);
        if (more == 0)
        {
            var clear = string.Create(CultureInfo.InvariantCulture,
                $"Clears the bar for tier {tier - 1}: {runs} runs, lower bound {bound:0.00} ≥ {rule.MinWilsonLowerBound:0.00}, no rollback in the last {Math.Min(rule.RollbackFreeRuns, runs)} runs.");
            return new TrustAssessment(tier, runs, successes, agreements, bound, sinceRollback, lastRollbackAt, tier - 1, 0, clear);
        }

        var parts = new List<string>();
        if (runs < rule.MinRuns)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{runs} of {rule.MinRuns} runs"));
        }

        if (bound < rule.MinWilsonLowerBound)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"lower bound {bound:0.00}, needs {rule.MinWilsonLowerBound:0.00}"));
        }

        if (lastRollback >= 0 && sinceRollback < rule.RollbackFreeRuns)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"a rollback {HumanFormat.Count(sinceRollback, "run")} ago, needs {HumanFormat.Count(rule.RollbackFreeRuns, "run")} without one"));
        }

        var words = more < 0
            ? $"Out of reach for tier {tier - 1} at this success rate ({string.Join("; ", parts)})."
            : string.Create(CultureInfo.InvariantCulture, $"Needs {more} more successful {HumanFormat.Noun(more, "run")} in a row for tier {tier - 1} ({string.Join("; ", parts)}).");
        return new TrustAssessment(tier, runs, successes, agreements, bound, sinceRollback, lastRollbackAt, null, more, words);
    }

    /// <summary>
    /// How many more successes in a row the record needs to clear the bar (0 when it does), or -1
    /// when no number within reason would (a bar the record's failures keep out of reach).
    /// </summary>
    public static int MoreSuccessesNeeded(int runs, int successes, int sinceRollback, bool hadRollback, TierSuggestionOptions rule)
    {
        for (var k = 0; k <= SearchLimit; k++)
        {
            var n = runs + k;
            if (n >= rule.MinRuns
                && LearningService.WilsonLowerBound(successes + k, n) >= rule.MinWilsonLowerBound
                && (!hadRollback || sinceRollback + k >= rule.RollbackFreeRuns))
            {
                return k;
            }
        }

        return -1;
    }
}
