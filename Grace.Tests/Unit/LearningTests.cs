using Grace.Data.Entities;
using Grace.Engine.Learn;
using Grace.Engine.Verify;

namespace Grace.Tests.Unit;

public sealed class LearningTests
{
    [Theory]
    [InlineData(0, 0, 0.0)]
    [InlineData(1, 1, 0.20654)]
    [InlineData(3, 3, 0.4385)]
    [InlineData(30, 30, 0.8865)]
    [InlineData(50, 100, 0.4038)]
    [InlineData(0, 10, 0.0)]
    public void Wilson_lower_bound_is_cautious_with_few_runs(int successes, int runs, double expected) =>
        Assert.Equal(expected, LearningService.WilsonLowerBound(successes, runs), 3);

    [Fact]
    public void More_evidence_of_the_same_rate_earns_more_confidence() =>
        Assert.True(LearningService.WilsonLowerBound(90, 100) > LearningService.WilsonLowerBound(9, 10));

    [Theory]
    [InlineData(Comparator.LessThanOrEqual, 0, 0, true)]
    [InlineData(Comparator.LessThanOrEqual, 1, 0, false)]
    [InlineData(Comparator.LessThan, 0, 0, false)]
    [InlineData(Comparator.GreaterThan, 2, 1, true)]
    [InlineData(Comparator.GreaterThanOrEqual, 1, 1, true)]
    [InlineData(Comparator.Equal, 1, 1, true)]
    [InlineData(Comparator.Equal, 1, 2, false)]
    [InlineData(Comparator.NotEqual, 1, 2, true)]
    public void Contracts_compare_as_written(Comparator comparator, double observed, double threshold, bool holds) =>
        Assert.Equal(holds, ContractVerifier.Holds(comparator, observed, threshold));
}
