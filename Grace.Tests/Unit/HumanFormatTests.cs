using Grace.Data.Entities;
using Grace.Engine.Formatting;

namespace Grace.Tests.Unit;

/// <summary>Numbers, times and names as the console and the engine's messages show them.</summary>
public sealed class HumanFormatTests
{
    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(512, "512 B")]
    [InlineData(1536, "1.5 KiB")]
    [InlineData(81920, "80 KiB")]
    [InlineData(71303168, "68 MiB")]
    [InlineData(52428800, "50 MiB")]
    [InlineData(2469606195, "2.3 GiB")]
    [InlineData(-2048, "-2 KiB")]
    public void Sizes_are_in_binary_units(double bytes, string expected) => Assert.Equal(expected, HumanFormat.Bytes(bytes));

    [Theory]
    [InlineData(0.0, "0 ms")]
    [InlineData(0.34, "340 ms")]
    [InlineData(0.05, "50 ms")]
    [InlineData(4.0, "4 s")]
    [InlineData(4.25, "4.3 s")]
    [InlineData(12.4, "12 s")]
    [InlineData(125, "2 min 5 s")]
    [InlineData(180, "3 min")]
    [InlineData(194.25, "3 min 14 s")]
    [InlineData(3900, "1 h 5 min")]
    [InlineData(7200, "2 h")]
    [InlineData(183600, "2 d 3 h")]
    [InlineData(-125, "-2 min 5 s")]
    public void Durations_read_as_people_say_them(double seconds, string expected) => Assert.Equal(expected, HumanFormat.Duration(seconds));

    [Fact]
    public void An_unknown_duration_says_so()
    {
        Assert.Equal("n/a", HumanFormat.Duration((double?)null));
        Assert.Equal("2 min 5 s", HumanFormat.Duration(TimeSpan.FromSeconds(125)));
    }

    [Theory]
    [InlineData(0, "run", null, "0 runs")]
    [InlineData(1, "run", null, "1 run")]
    [InlineData(3, "run", null, "3 runs")]
    [InlineData(1, "signal", null, "1 signal")]
    [InlineData(1204, "signal", null, "1,204 signals")]
    [InlineData(2, "recovery", "recoveries", "2 recoveries")]
    public void Counts_have_the_right_plural(long count, string singular, string? plural, string expected) =>
        Assert.Equal(expected, HumanFormat.Count(count, singular, plural));

    [Fact]
    public void State_names_read_as_words()
    {
        Assert.Equal("Awaiting approval", HumanFormat.Words(MissionState.AwaitingApproval));
        Assert.Equal("Dry run completed", HumanFormat.Words(MissionState.DryRunCompleted));
        Assert.Equal("Rolled back", HumanFormat.Words(MissionState.RolledBack));
        Assert.Equal("Succeeded", HumanFormat.Words(MissionState.Succeeded));
        Assert.Equal("Given up", HumanFormat.Words(NotificationStatus.GivenUp));
        Assert.Equal("Mission planned", HumanFormat.Words(IncidentEventKind.MissionPlanned));
        Assert.Equal("rolled back", HumanFormat.LowerWords(MissionState.RolledBack));
        Assert.Equal("HTTP call", HumanFormat.Words("HTTPCall"));
    }

    [Theory]
    [InlineData(Comparator.LessThan, 52428800, "bytes", "less than 50 MiB")]
    [InlineData(Comparator.LessThanOrEqual, 0, "bytes", "at most 0 B")]
    [InlineData(Comparator.GreaterThanOrEqual, 2, "replicas", "at least 2 replicas")]
    [InlineData(Comparator.Equal, 200, "status", "equal to 200")]
    [InlineData(Comparator.NotEqual, 0, "alive", "not equal to 0")]
    [InlineData(Comparator.GreaterThan, 1500, "ms", "more than 1.5 s")]
    public void Comparators_read_as_words_with_the_value_in_its_unit(Comparator comparator, double threshold, string unit, string expected) =>
        Assert.Equal(expected, HumanFormat.Rule(comparator, threshold, unit));

    [Theory]
    [InlineData(71303168, "bytes", "68 MiB")]
    [InlineData(68, "MiB", "68 MiB")]
    [InlineData(340, "ms", "340 ms")]
    [InlineData(42.5, "%", "42.5 %")]
    [InlineData(503, "status", "503")]
    [InlineData(1, "restarts", "1 restart")]
    [InlineData(3, "restarts", "3 restarts")]
    [InlineData(12, "signals/min", "12 signals/min")]
    [InlineData(1234567, "rows", "1,234,567 rows")]
    public void Metric_values_use_their_unit(double value, string unit, string expected) => Assert.Equal(expected, HumanFormat.Value(value, unit));

    [Fact]
    public void A_contract_reads_as_a_sentence() =>
        Assert.Equal("directory.bytes of cache is less than 50 MiB within 30 s of the action",
            HumanFormat.Contract("directory.bytes", "cache", Comparator.LessThan, 52428800, "bytes", 30));

    [Fact]
    public void Times_are_shown_in_the_viewers_zone_and_in_utc_for_the_tooltip()
    {
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var tokyo = TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo");
        var at = new DateTimeOffset(2026, 11, 30, 19, 11, 15, TimeSpan.Zero);
        var now = at.AddMinutes(5);
        Assert.Equal("20:11:15", HumanFormat.Time(at, berlin, now));
        // In Tokyo it is already the next day, and "now" is that day too: today's time.
        Assert.Equal("04:11:15", HumanFormat.Time(at, tokyo, now));
        Assert.Equal("Nov 29, 20:11", HumanFormat.Time(at.AddDays(-1), berlin, now));
        Assert.Equal("2025-11-30 20:11", HumanFormat.Time(at.AddYears(-1), berlin, now));
        Assert.Equal("2026-11-30 20:11:15", HumanFormat.Stamp(at, berlin));
        Assert.Equal("20:11:15.000", HumanFormat.Precise(at, berlin));
        Assert.Equal("2026-11-30 19:11:15 UTC", HumanFormat.Utc(at));
        // Summer time moves the offset: July in Berlin is UTC+2.
        Assert.Equal("2026-07-01 14:00:00", HumanFormat.Stamp(new DateTimeOffset(2026, 7, 1, 12, 0, 0, TimeSpan.Zero), berlin));
    }

    [Fact]
    public void Relative_times_say_how_long_ago_or_how_soon()
    {
        var now = new DateTimeOffset(2026, 11, 30, 19, 0, 0, TimeSpan.Zero);
        Assert.Equal("just now", HumanFormat.Relative(now.AddSeconds(-10), now));
        Assert.Equal("5 min ago", HumanFormat.Relative(now.AddMinutes(-5), now));
        Assert.Equal("3 h ago", HumanFormat.Relative(now.AddHours(-3.5), now));
        Assert.Equal("2 d ago", HumanFormat.Relative(now.AddDays(-2), now));
        Assert.Equal("in 4 min", HumanFormat.Relative(now.AddMinutes(4), now));
    }

    [Fact]
    public void Evidence_json_is_indented_unescaped_and_names_its_comparator()
    {
        var stored = System.Text.Json.JsonSerializer.Serialize(new { Probe = "directory.bytes", Comparator = Comparator.Equal, Threshold = 52428800, Note = "the \"cache\" folder — größer" });
        Assert.Contains("\\u0022", stored, StringComparison.Ordinal);
        var shown = HumanFormat.PrettyJson(stored);
        Assert.DoesNotContain("\\u", shown, StringComparison.Ordinal);
        Assert.Contains("\"Comparator\": \"equal to\"", shown, StringComparison.Ordinal);
        Assert.Contains("the \\\"cache\\\" folder — größer", shown, StringComparison.Ordinal);
        Assert.Contains("\n", shown, StringComparison.Ordinal);
        Assert.Equal("not json {", HumanFormat.PrettyJson("not json {"));
    }

    [Fact]
    public void A_benchmark_verdict_is_explained_in_words()
    {
        double[] before = [10, 11, 12, 10], after = [10, 12, 11, 10];
        Assert.Equal("No slowdown detected: 4 samples before and after (median 11 ms before, 11 ms after)", HumanFormat.BenchmarkVerdict(false, before, after));
        Assert.Equal("Slower after the action: median 11 ms before, 30 ms after (4 samples before, 3 after)", HumanFormat.BenchmarkVerdict(true, before, [30, 31, 29]));
        Assert.StartsWith("Not enough samples to compare", HumanFormat.BenchmarkVerdict(false, [], []), StringComparison.Ordinal);
    }

    [Fact]
    public void Percentiles_use_the_nearest_rank()
    {
        double[] values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        Assert.Equal(5.5, HumanFormat.Median(values));
        Assert.Equal(9, HumanFormat.Percentile(values, 0.9));
        Assert.Equal(7, HumanFormat.Percentile([7], 0.9));
        Assert.True(double.IsNaN(HumanFormat.Median([])));
    }
}
