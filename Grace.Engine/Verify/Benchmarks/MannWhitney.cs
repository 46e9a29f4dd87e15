namespace Grace.Engine.Verify.Benchmarks;

/// <summary>The verdict of comparing latency samples before and after an action.</summary>
/// <param name="U">Mann-Whitney U of the "after" sample.</param>
/// <param name="PValue">One-sided p-value that "after" is slower than "before".</param>
/// <param name="EffectSize">Relative change of the median: 0.25 means 25 % slower.</param>
/// <param name="MedianBefore">Median latency before, ms.</param>
/// <param name="MedianAfter">Median latency after, ms.</param>
/// <param name="Regression">Significant and larger than the minimum effect.</param>
public sealed record RegressionVerdict(double U, double PValue, double EffectSize, double MedianBefore, double MedianAfter, bool Regression);

/// <summary>
/// Mann-Whitney U test (normal approximation with tie correction), one-sided: are the "after"
/// samples stochastically larger? Latency is skewed and noisy, so a rank test fits better than a
/// t-test; a minimum effect keeps a statistically significant but harmless shift from rolling back.
/// </summary>
public static class MannWhitney
{
    public static RegressionVerdict Compare(IReadOnlyList<double> before, IReadOnlyList<double> after, double alpha = 0.01, double minimumEffect = 0.2, double minimumAbsolute = 1.0)
    {
        if (before.Count < 5 || after.Count < 5)
        {
            throw new ArgumentException("Each sample needs at least 5 values for the test to mean anything.");
        }

        int n1 = before.Count, n2 = after.Count;
        var all = before.Select(v => (Value: v, After: false)).Concat(after.Select(v => (Value: v, After: true))).OrderBy(x => x.Value).ToList();
        var ranks = new double[all.Count];
        double tieTerm = 0;
        for (var i = 0; i < all.Count;)
        {
            var j = i;
            while (j + 1 < all.Count && all[j + 1].Value == all[i].Value)
            {
                j++;
            }

            var rank = (i + j + 2) / 2.0; // ranks are 1-based; ties share their mean rank
            for (var k = i; k <= j; k++)
            {
                ranks[k] = rank;
            }

            var t = j - i + 1;
            tieTerm += (double)t * t * t - t;
            i = j + 1;
        }

        var rankSumAfter = Enumerable.Range(0, all.Count).Where(k => all[k].After).Sum(k => ranks[k]);
        var u = rankSumAfter - (n2 * (n2 + 1) / 2.0);
        var mean = n1 * n2 / 2.0;
        var n = n1 + n2;
        var variance = n1 * n2 / 12.0 * (n + 1 - (tieTerm / (n * (n - 1.0))));
        // Continuity correction towards the mean.
        var z = variance <= 0 ? 0 : (u - mean - 0.5) / Math.Sqrt(variance);
        var p = 1 - NormalCdf(z);
        var medianBefore = Median(before);
        var medianAfter = Median(after);
        var effect = medianBefore <= 0 ? (medianAfter > 0 ? double.PositiveInfinity : 0) : (medianAfter - medianBefore) / medianBefore;
        var regression = p < alpha && effect >= minimumEffect && medianAfter - medianBefore >= minimumAbsolute;
        return new RegressionVerdict(u, p, effect, medianBefore, medianAfter, regression);
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    // Abramowitz and Stegun 7.1.26: enough precision for a p-value threshold.
    internal static double NormalCdf(double z)
    {
        var t = 1 / (1 + (0.3275911 * Math.Abs(z) / Math.Sqrt(2)));
        var erf = 1 - ((((((1.061405429 * t) - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-(z * z / 2));
        return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
    }
}
