using System.Text.RegularExpressions;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Diagnose;

/// <summary>The pattern an incident matched and its candidate playbooks, best first.</summary>
public sealed record Diagnosis(string PatternKey, IReadOnlyList<string> RankedPlaybooks, string Reason);

/// <summary>
/// Matches an incident against <c>Grace:Patterns</c>. When several patterns match, the most
/// specific wins (the one with the most criteria), then the first by key. Candidate playbooks are
/// ranked by the confidence Grace has learned for them on this pattern, then by configured order.
/// </summary>
public sealed class Sentinel(IOptionsMonitor<CatalogOptions> catalog, IDbContextFactory<GraceDbContext> dbFactory)
{
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    public async Task<Diagnosis?> DiagnoseAsync(Signal signal, CancellationToken cancellationToken)
    {
        var match = catalog.CurrentValue.Patterns
            .Where(p => Matches(p.Value, signal))
            .OrderByDescending(p => Specificity(p.Value))
            .ThenBy(p => p.Key, StringComparer.OrdinalIgnoreCase)
            .Select(p => (Key: p.Key, Pattern: p.Value))
            .FirstOrDefault();
        if (match.Pattern is null)
        {
            return null;
        }

        if (Candidates(match.Pattern) is { Count: <= 1 } only)
        {
            // Nothing to choose between: no statistics read, and no connection (ADR 0036).
            return new Diagnosis(match.Key, only, $"Matched pattern '{match.Key}'.");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var (ranked, stats) = await RankAsync(db, match.Key, cancellationToken);
        var reason = $"Matched pattern '{match.Key}'" + (ranked.Count > 1
            ? $"; playbooks ranked by learned confidence: {string.Join(", ", ranked.Select(k => $"{k} ({stats.GetValueOrDefault(k):P0})"))}."
            : ".");
        return new Diagnosis(match.Key, ranked, reason);
    }

    /// <summary>
    /// A pattern's candidate playbooks that are configured, best first: by the confidence learned on
    /// this pattern, then in configured order. The escalation ladder climbs this list.
    /// </summary>
    public async Task<(List<string> Ranked, Dictionary<string, double> Confidence)> RankAsync(GraceDbContext db, string patternKey, CancellationToken cancellationToken)
    {
        if (!catalog.CurrentValue.Patterns.TryGetValue(patternKey, out var pattern))
        {
            return ([], []);
        }

        var candidates = Candidates(pattern);
        if (candidates.Count <= 1)
        {
            // One candidate (or none) ranks the same whatever was learned: the statistics are not read (ADR 0036).
            return (candidates, []);
        }

        var stats = await db.PlaybookStatistics.AsNoTracking()
            .Where(s => s.PatternKey == patternKey)
            .ToDictionaryAsync(s => s.PlaybookKey, s => s.Confidence, StringComparer.OrdinalIgnoreCase, cancellationToken);
        var ranked = candidates
            .Select((key, order) => (key, order, confidence: stats.GetValueOrDefault(key)))
            .OrderByDescending(p => p.confidence)
            .ThenBy(p => p.order)
            .Select(p => p.key)
            .ToList();
        return (ranked, stats);
    }

    /// <summary>
    /// Whether a signal matches a pattern with a configured playbook, that is, whether its incident
    /// would be planned: what capture asks of a new fingerprint on arrival, so its commit goes before
    /// the counting of repeats (ADR 0038). No database read.
    /// </summary>
    public bool WouldPlan(Signal signal)
    {
        var catalogNow = catalog.CurrentValue;
        foreach (var pattern in catalogNow.Patterns.Values)
        {
            if (pattern.Playbooks.Any(catalogNow.Playbooks.ContainsKey) && Matches(pattern, signal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A pattern's candidate playbooks that are configured, in configured order.</summary>
    private List<string> Candidates(PatternOptions pattern) => [.. pattern.Playbooks.Where(catalog.CurrentValue.Playbooks.ContainsKey)];

    public static bool Matches(PatternOptions pattern, Signal signal)
    {
        if (signal.Severity < pattern.MinimumSeverity)
        {
            return false;
        }

        if (pattern.ExceptionType is { Length: > 0 } type)
        {
            var actual = signal.ExceptionType ?? "";
            var simple = actual[(actual.LastIndexOf('.') + 1)..];
            if (!actual.Equals(type, StringComparison.OrdinalIgnoreCase) && !simple.Equals(type, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        if (pattern.Source is { Length: > 0 } source && !signal.Source.StartsWith(source, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (pattern.MessageRegex is { Length: > 0 } regex)
        {
            var options = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant;
            try
            {
                if (!Regex.IsMatch(signal.Message, regex, options, RegexTimeout)
                    && !(signal.MessageTemplate is { } t && Regex.IsMatch(t, regex, options, RegexTimeout)))
                {
                    return false;
                }
            }
            catch (RegexMatchTimeoutException)
            {
                return false;
            }
        }

        foreach (var (key, value) in pattern.Labels)
        {
            if (signal.Labels is null || !signal.Labels.TryGetValue(key, out var actual) || !string.Equals(actual, value, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        return true;
    }

    private static int Specificity(PatternOptions p) =>
        (p.ExceptionType is { Length: > 0 } ? 1 : 0) + (p.MessageRegex is { Length: > 0 } ? 1 : 0)
        + (p.Source is { Length: > 0 } ? 1 : 0) + p.Labels.Count;
}
