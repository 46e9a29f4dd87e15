using Grace.Engine.Configuration;
using Grace.Engine.Learn;

namespace Grace.Tests.Unit;

/// <summary>The tier-suggestion rule at its boundaries: runs, the Wilson lower bound, and rollbacks in the last M runs.</summary>
public sealed class TrustRuleTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    // With every run a success the Wilson lower bound is n / (n + 1.96²): 20 runs give 0.839, so a bar of 0.8 is cleared at 20 runs and not before (19 runs give 0.832 but too few runs).
    private static readonly TierSuggestionOptions Rule = new() { MinRuns = 20, MinWilsonLowerBound = 0.8, RollbackFreeRuns = 10 };

    private static List<RunEvidence> Record(params EvidenceKind[] kinds) => kinds.Select((k, i) => new RunEvidence(Start.AddMinutes(i), k)).ToList();

    private static List<RunEvidence> Successes(int n) => Record(Enumerable.Repeat(EvidenceKind.Success, n).ToArray());

    [Fact]
    public void Twenty_successful_runs_clear_the_bar_and_nineteen_do_not()
    {
        var nineteen = TrustRule.Assess(Successes(19), tier: 2, Rule);
        Assert.False(nineteen.Eligible);
        Assert.Equal(1, nineteen.MoreSuccessesNeeded);
        Assert.StartsWith("Needs 1 more successful run in a row for tier 1 (19 of 20 runs)", nineteen.Distance);

        var twenty = TrustRule.Assess(Successes(20), tier: 2, Rule);
        Assert.True(twenty.Eligible);
        Assert.Equal(1, twenty.SuggestedTier);
        Assert.Equal(0, twenty.MoreSuccessesNeeded);
        Assert.StartsWith("Clears the bar for tier 1", twenty.Distance);
    }

    [Fact]
    public void Fourteen_runs_are_told_they_need_six_more()
    {
        var a = TrustRule.Assess(Successes(14), tier: 1, Rule);
        Assert.Equal(6, a.MoreSuccessesNeeded);
        Assert.StartsWith("Needs 6 more successful runs in a row for tier 0", a.Distance);
    }

    [Fact]
    public void A_lower_bound_just_under_the_bar_is_refused_and_just_over_is_suggested()
    {
        // 28 of 30: enough runs, no rollback (the two misses were shadow disagreements), so only the lower bound decides.
        var record = Record([.. Enumerable.Repeat(EvidenceKind.Success, 28), EvidenceKind.ShadowDisagreed, EvidenceKind.ShadowDisagreed]);
        var bound = LearningService.WilsonLowerBound(28, 30);
        var under = TrustRule.Assess(record, 3, new TierSuggestionOptions { MinRuns = 20, MinWilsonLowerBound = bound + 0.001, RollbackFreeRuns = 10 });
        Assert.False(under.Eligible);
        Assert.Contains(FormattableString.Invariant($"lower bound {bound:0.00}, needs {bound + 0.001:0.00}"), under.Distance);
        Assert.True(under.MoreSuccessesNeeded >= 1);

        var over = TrustRule.Assess(record, 3, new TierSuggestionOptions { MinRuns = 20, MinWilsonLowerBound = bound - 0.001, RollbackFreeRuns = 10 });
        Assert.True(over.Eligible);
        Assert.Equal(2, over.SuggestedTier);
        Assert.Equal(bound, over.LowerBound, 12);
    }

    [Fact]
    public void A_rollback_inside_the_last_M_runs_blocks_the_suggestion_and_one_just_outside_does_not()
    {
        // 40 runs, one rollback: 9 runs after it (inside the last 10), then 10 runs after it (just outside).
        var inside = Record([.. Enumerable.Repeat(EvidenceKind.Success, 30), EvidenceKind.RolledBack, .. Enumerable.Repeat(EvidenceKind.Success, 9)]);
        var blocked = TrustRule.Assess(inside, 2, Rule);
        Assert.False(blocked.Eligible);
        Assert.Equal(9, blocked.RunsSinceRollback);
        Assert.Equal(Start.AddMinutes(30), blocked.LastRollbackAt);
        Assert.Equal(1, blocked.MoreSuccessesNeeded);
        Assert.Contains("a rollback 9 runs ago, needs 10 runs without one", blocked.Distance);

        // One run since: a count worded by HumanFormat, not "1 run(s)".
        var justNow = TrustRule.Assess(Record([.. Enumerable.Repeat(EvidenceKind.Success, 38), EvidenceKind.RolledBack, EvidenceKind.Success]), 2, Rule);
        Assert.Contains("a rollback 1 run ago, needs 10 runs without one", justNow.Distance);

        var outside = Record([.. Enumerable.Repeat(EvidenceKind.Success, 29), EvidenceKind.RolledBack, .. Enumerable.Repeat(EvidenceKind.Success, 10)]);
        Assert.True(TrustRule.Assess(outside, 2, Rule).Eligible);

        // A failure counts like a rollback.
        var failed = Record([.. Enumerable.Repeat(EvidenceKind.Success, 30), EvidenceKind.Failure, .. Enumerable.Repeat(EvidenceKind.Success, 5)]);
        Assert.False(TrustRule.Assess(failed, 2, Rule).Eligible);
    }

    [Fact]
    public void Shadow_agreements_count_as_successes_and_healing_without_action_does_not()
    {
        var agreed = TrustRule.Assess(Record([.. Enumerable.Repeat(EvidenceKind.Success, 10), .. Enumerable.Repeat(EvidenceKind.ShadowAgreed, 10)]), 2, Rule);
        Assert.True(agreed.Eligible);
        Assert.Equal(20, agreed.Successes);
        Assert.Equal(10, agreed.ShadowAgreements);

        var healed = TrustRule.Assess(Record([.. Enumerable.Repeat(EvidenceKind.Success, 10), .. Enumerable.Repeat(EvidenceKind.ShadowHealedWithoutAction, 10)]), 2, Rule);
        Assert.False(healed.Eligible);
        Assert.Equal(10, healed.Successes);
        Assert.Equal(20, healed.Runs);
    }

    [Fact]
    public void Tier_zero_has_nothing_to_earn()
    {
        var a = TrustRule.Assess(Successes(100), 0, Rule);
        Assert.False(a.Eligible);
        Assert.Null(a.SuggestedTier);
        Assert.StartsWith("Tier 0 already", a.Distance);
    }

    [Fact]
    public void The_conservative_defaults_need_35_straight_successes()
    {
        var defaults = new TierSuggestionOptions();
        Assert.Equal((20, 0.9, 10), (defaults.MinRuns, defaults.MinWilsonLowerBound, defaults.RollbackFreeRuns));
        Assert.Equal(35, TrustRule.MoreSuccessesNeeded(0, 0, 0, hadRollback: false, defaults));
        Assert.False(TrustRule.Assess(Successes(34), 2, defaults).Eligible);
        Assert.True(TrustRule.Assess(Successes(35), 2, defaults).Eligible);
    }

    [Fact]
    public void A_record_that_can_never_clear_the_bar_says_so()
    {
        // Ten misses keep a bar of 0.99999 out of reach of any number of successes within the search limit.
        var hopeless = new TierSuggestionOptions { MinRuns = 1, MinWilsonLowerBound = 0.99999, RollbackFreeRuns = 0 };
        Assert.Equal(-1, TrustRule.MoreSuccessesNeeded(10, 0, 10, hadRollback: false, hopeless));
        var a = TrustRule.Assess(Record(Enumerable.Repeat(EvidenceKind.ShadowDisagreed, 10).ToArray()), 2, hopeless);
        Assert.StartsWith("Out of reach for tier 1", a.Distance);
    }

    [Theory]
    [InlineData("MinRuns", "0", "Grace:Autonomy:TierSuggestions:MinRuns")]
    [InlineData("MinWilsonLowerBound", "1.5", "Grace:Autonomy:TierSuggestions:MinWilsonLowerBound")]
    [InlineData("RollbackFreeRuns", "-1", "Grace:Autonomy:TierSuggestions:RollbackFreeRuns")]
    public void A_bad_rule_is_refused_naming_its_key(string property, string value, string key)
    {
        var options = new AutonomyOptions();
        var rule = options.TierSuggestions;
        typeof(TierSuggestionOptions).GetProperty(property)!.SetValue(rule,
            Convert.ChangeType(value, typeof(TierSuggestionOptions).GetProperty(property)!.PropertyType, System.Globalization.CultureInfo.InvariantCulture));
        var result = new AutonomyOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains(key, result.FailureMessage);
    }

    [Fact]
    public void An_unknown_vacuous_policy_number_is_refused_naming_its_key()
    {
        var result = new AutonomyOptionsValidator().Validate(null, new AutonomyOptions { VacuousContract = (VacuousContractPolicy)7 });
        Assert.True(result.Failed);
        Assert.Contains("Grace:Autonomy:VacuousContract must be Refuse, Wait or Act", result.FailureMessage);
    }
}
