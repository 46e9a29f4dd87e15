using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grace.Data.Entities;

namespace Grace.Engine.Formatting;

/// <summary>
/// Numbers, times and names as people read them: "68 MiB", "2 min 5 s", "3 runs", "Awaiting
/// approval", "less than 50 MiB". The one place Grace turns values into words, used by the console
/// and by the engine's own messages (an incident's sample, a contract's description), so the two
/// never disagree. Invariant culture: Grace is an English console, and a server's locale must not
/// change what a test or an operator reads.
/// </summary>
public static class HumanFormat
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;
    private static readonly string[] ByteUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

    // Units whose number is a code or a yes/no, not a quantity: "read 503", not "read 503 status".
    private static readonly HashSet<string> LabelUnits = new(StringComparer.OrdinalIgnoreCase)
    {
        "", "value", "status", "state", "state code", "alive", "running", "healthy", "on", "responsive", "schedulable", "level",
    };

    /// <summary>Bytes in binary units: "512 B", "1.5 KiB", "68 MiB", "2.3 GiB".</summary>
    public static string Bytes(double bytes)
    {
        if (!double.IsFinite(bytes))
        {
            return bytes.ToString(C);
        }

        var sign = bytes < 0 ? "-" : "";
        var value = Math.Abs(bytes);
        var unit = 0;
        while (value >= 1024 && unit < ByteUnits.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        // One decimal while it matters (below 10), whole numbers above: "1.5 KiB", "68 MiB".
        var text = unit == 0 ? value.ToString("0", C) : value < 10 ? value.ToString("0.#", C) : value.ToString("0", C);
        return $"{sign}{text} {ByteUnits[unit]}";
    }

    /// <summary>A duration as people say it: "340 ms", "4.2 s", "12 s", "2 min 5 s", "1 h 5 min", "2 d 3 h". "n/a" when unknown.</summary>
    public static string Duration(double? seconds)
    {
        if (seconds is not { } s || !double.IsFinite(s))
        {
            return "n/a";
        }

        if (s < 0)
        {
            return "-" + Duration(-s);
        }

        if (s < 1)
        {
            var ms = Math.Round(s * 1000, MidpointRounding.AwayFromZero);
            if (ms < 1000)
            {
                return $"{ms.ToString("0", C)} ms";
            }
        }

        if (s < 10)
        {
            var tenths = Math.Round(s, 1, MidpointRounding.AwayFromZero);
            if (tenths < 10)
            {
                return $"{tenths.ToString("0.#", C)} s";
            }
        }

        var total = (long)Math.Round(s, MidpointRounding.AwayFromZero);
        return total switch
        {
            < 60 => $"{total} s",
            < 3600 => total % 60 == 0 ? $"{total / 60} min" : $"{total / 60} min {total % 60} s",
            < 86400 => (total % 3600) / 60 == 0 ? $"{total / 3600} h" : $"{total / 3600} h {(total % 3600) / 60} min",
            _ => (total % 86400) / 3600 == 0 ? $"{total / 86400} d" : $"{total / 86400} d {(total % 86400) / 3600} h",
        };
    }

    /// <summary>A duration as people say it (see <see cref="Duration(double?)"/>).</summary>
    public static string Duration(TimeSpan duration) => Duration(duration.TotalSeconds);

    /// <summary>A count with its noun: "1 run", "3 runs", "1,204 signals". <paramref name="plural"/> defaults to the singular plus "s".</summary>
    public static string Count(long count, string singular, string? plural = null) =>
        $"{count.ToString("N0", C)} {Noun(count, singular, plural)}";

    /// <summary>The noun alone, singular or plural for <paramref name="count"/>.</summary>
    public static string Noun(long count, string singular, string? plural = null) => count == 1 ? singular : plural ?? singular + "s";

    /// <summary>A number without noise: "1,204", "0.25", "3.142".</summary>
    public static string Number(double value) =>
        !double.IsFinite(value) ? value.ToString(C)
        : Math.Abs(value % 1) < 1e-9 && Math.Abs(value) < 1e15 ? value.ToString("N0", C)
        : value.ToString("#,0.###", C);

    /// <summary>A percentage of a fraction: 0.625 → "63 %".</summary>
    public static string Percent(double fraction) => double.IsFinite(fraction) ? $"{(fraction * 100).ToString("0", C)} %" : "n/a";

    /// <summary>
    /// A probe's reading in its unit: bytes and MiB as sizes, ms and s as durations, % as a
    /// percentage, counted units with their noun ("3 replicas", "1 restart"), codes and yes/no
    /// readings as the bare number ("503").
    /// </summary>
    public static string Value(double value, string? unit)
    {
        var u = unit?.Trim() ?? "";
        switch (u)
        {
            case "bytes" or "B":
                return Bytes(value);
            case "KiB":
                return Bytes(value * 1024);
            case "MiB":
                return Bytes(value * 1024 * 1024);
            case "GiB":
                return Bytes(value * 1024 * 1024 * 1024);
            case "ms":
                return Duration(value / 1000);
            case "s":
                return Duration(value);
            case "%":
                return double.IsFinite(value) ? $"{value.ToString("0.#", C)} %" : value.ToString(C);
        }

        if (LabelUnits.Contains(u))
        {
            return Number(value);
        }

        // "1 restart", "3 restarts"; a rate such as "signals/min" keeps its form.
        var noun = Math.Abs(value - 1) < 1e-9 && u.EndsWith('s') && !u.Contains('/') ? u[..^1] : u;
        return $"{Number(value)} {noun}";
    }

    /// <summary>"AwaitingApproval" → "Awaiting approval", "DryRunCompleted" → "Dry run completed".</summary>
    public static string Words<TEnum>(TEnum value) where TEnum : struct, Enum => Words(value.ToString());

    /// <summary>An enum name (or any PascalCase word) as a phrase that starts with a capital: "RolledBack" → "Rolled back".</summary>
    public static string Words(string pascal)
    {
        if (string.IsNullOrEmpty(pascal))
        {
            return pascal;
        }

        var text = new StringBuilder(pascal.Length + 8);
        for (var i = 0; i < pascal.Length; i++)
        {
            var ch = pascal[i];
            var startsWord = i > 0 && char.IsUpper(ch) && (char.IsLower(pascal[i - 1]) || (i + 1 < pascal.Length && char.IsLower(pascal[i + 1]) && char.IsUpper(pascal[i - 1])));
            if (startsWord)
            {
                text.Append(' ');
            }

            // Acronyms ("HTTP") keep their capitals; ordinary words after the first go lower case.
            var inAcronym = char.IsUpper(ch) && ((i + 1 < pascal.Length && char.IsUpper(pascal[i + 1])) || (i > 0 && char.IsUpper(pascal[i - 1]) && (i + 1 == pascal.Length || !char.IsLower(pascal[i + 1]))));
            text.Append(i == 0 || inAcronym ? ch : char.ToLowerInvariant(ch));
        }

        return text.ToString();
    }

    /// <summary>Words in lower case, for the middle of a sentence: "rolled back".</summary>
    public static string LowerWords<TEnum>(TEnum value) where TEnum : struct, Enum => Words(value).ToLowerInvariant();

    /// <summary>A comparator in words: "less than", "at most", "more than", "at least", "equal to", "not equal to".</summary>
    public static string Comparator(Comparator comparator) => comparator switch
    {
        Data.Entities.Comparator.LessThan => "less than",
        Data.Entities.Comparator.LessThanOrEqual => "at most",
        Data.Entities.Comparator.GreaterThan => "more than",
        Data.Entities.Comparator.GreaterThanOrEqual => "at least",
        Data.Entities.Comparator.Equal => "equal to",
        Data.Entities.Comparator.NotEqual => "not equal to",
        _ => comparator.ToString(),
    };

    /// <summary>A threshold rule in words: "less than 50 MiB", "at least 2 replicas".</summary>
    public static string Rule(Comparator comparator, double threshold, string? unit) => $"{Comparator(comparator)} {Value(threshold, unit)}";

    /// <summary>A contract as one sentence: "directory.bytes of cache is less than 50 MiB within 30 s of the action".</summary>
    public static string Contract(string probe, string target, Comparator comparator, double threshold, string? unit, int deadlineSeconds) =>
        $"{probe} of {target} is {Rule(comparator, threshold, unit)} within {Duration(deadlineSeconds)} of the action";

    /// <summary>An instant in UTC, for tooltips and exports: "2026-11-30 19:11:15 UTC".</summary>
    public static string Utc(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", C) + " UTC";

    /// <summary>
    /// An instant in a time zone, as short as is unambiguous next to <paramref name="now"/>:
    /// "14:03:12" today, "Nov 29, 14:03" this year, "2025-11-29 14:03" before.
    /// </summary>
    public static string Time(DateTimeOffset at, TimeZoneInfo zone, DateTimeOffset now)
    {
        var local = TimeZoneInfo.ConvertTime(at, zone);
        var today = TimeZoneInfo.ConvertTime(now, zone);
        if (local.Date == today.Date)
        {
            return local.ToString("HH:mm:ss", C);
        }

        return local.Year == today.Year ? local.ToString("MMM d, HH:mm", C) : local.ToString("yyyy-MM-dd HH:mm", C);
    }

    /// <summary>An instant in a time zone, in full: "2026-11-30 14:03:12".</summary>
    public static string Stamp(DateTimeOffset at, TimeZoneInfo zone) => TimeZoneInfo.ConvertTime(at, zone).ToString("yyyy-MM-dd HH:mm:ss", C);

    /// <summary>An instant in a time zone to the millisecond, for timelines: "14:03:12.045".</summary>
    public static string Precise(DateTimeOffset at, TimeZoneInfo zone) => TimeZoneInfo.ConvertTime(at, zone).ToString("HH:mm:ss.fff", C);

    /// <summary>How long ago (or how soon): "just now", "5 min ago", "3 h ago", "2 d ago", "in 4 min".</summary>
    public static string Relative(DateTimeOffset at, DateTimeOffset now)
    {
        var delta = now - at;
        var future = delta < TimeSpan.Zero;
        var span = future ? -delta : delta;
        if (span < TimeSpan.FromSeconds(45))
        {
            return future ? "in a moment" : "just now";
        }

        var text = span.TotalMinutes < 60 ? $"{Math.Max(1, (int)Math.Round(span.TotalMinutes))} min"
            : span.TotalHours < 24 ? $"{(int)span.TotalHours} h"
            : $"{(int)span.TotalDays} d";
        return future ? $"in {text}" : $"{text} ago";
    }

    // Display only: readable quotes and non-ASCII text. The console renders the text HTML-encoded, so nothing here reaches a page unescaped.
    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Evidence JSON for people: indented, quotes as quotes (no <c>\u0022</c>), and a comparator
    /// stored as its number shown in words. Text that is not JSON comes back unchanged.
    /// </summary>
    public static string PrettyJson(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return json ?? "";
        }

        try
        {
            var node = JsonNode.Parse(json);
            if (node is null)
            {
                return json;
            }

            NameComparators(node);
            return node.ToJsonString(Pretty);
        }
        catch (JsonException)
        {
            return json;
        }
    }

    private static void NameComparators(JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, child) in obj.ToList())
                {
                    if (key.Equals("comparator", StringComparison.OrdinalIgnoreCase) && child is JsonValue v && v.TryGetValue<int>(out var number)
                        && Enum.IsDefined(typeof(Comparator), number))
                    {
                        obj[key] = Comparator((Comparator)number);
                    }
                    else if (child is not null)
                    {
                        NameComparators(child);
                    }
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    if (child is not null)
                    {
                        NameComparators(child);
                    }
                }

                break;
        }
    }

    /// <summary>
    /// A benchmark's verdict for a team lead: "No slowdown detected: 20 samples before and after",
    /// or "Slower after the action: median 12 ms before, 19 ms after (20 samples each)". The
    /// statistics behind it (Mann–Whitney U, p, effect size) belong behind a toggle.
    /// </summary>
    public static string BenchmarkVerdict(bool regression, IReadOnlyCollection<double> beforeMs, IReadOnlyCollection<double> afterMs)
    {
        var samples = beforeMs.Count == afterMs.Count
            ? $"{Count(beforeMs.Count, "sample")} before and after"
            : $"{Count(beforeMs.Count, "sample")} before, {afterMs.Count.ToString("N0", C)} after";
        if (beforeMs.Count == 0 || afterMs.Count == 0)
        {
            return $"Not enough samples to compare: {samples}";
        }

        var medians = $"median {Duration(Median(beforeMs) / 1000)} before, {Duration(Median(afterMs) / 1000)} after";
        return regression
            ? $"Slower after the action: {medians} ({samples})"
            : $"No slowdown detected: {samples} ({medians})";
    }

    /// <summary>The median of some values; NaN when there are none.</summary>
    public static double Median(IEnumerable<double> values) => Percentile(values, 0.5);

    /// <summary>The nearest-rank percentile (0.9 for p90); NaN when there are none.</summary>
    public static double Percentile(IEnumerable<double> values, double fraction)
    {
        var sorted = values.Where(double.IsFinite).Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        if (Math.Abs(fraction - 0.5) < 1e-9 && sorted.Length % 2 == 0)
        {
            return (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        var rank = (int)Math.Ceiling(fraction * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
