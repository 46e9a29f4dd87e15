namespace Grace.Benchmarks.Harness;

/// <summary>Order statistics of measured samples (nearest rank: a reported percentile is a value that was measured).</summary>
internal static class Stats
{
    public static double Percentile(IReadOnlyCollection<double> samples, double q)
    {
        if (samples.Count == 0)
        {
            return double.NaN;
        }

        var sorted = samples.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    /// <summary>p50, p90, p99 and max of samples in milliseconds, as one line.</summary>
    public static string Summary(IReadOnlyCollection<double> ms, string unit = "ms", double divide = 1) => ms.Count == 0
        ? "no samples"
        : $"p50 {Percentile(ms, 0.5) / divide:0.##} {unit}, p90 {Percentile(ms, 0.9) / divide:0.##} {unit}, p99 {Percentile(ms, 0.99) / divide:0.##} {unit}, max {ms.Max() / divide:0.##} {unit} (n = {ms.Count})";
}
