using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Formatting;
using Microsoft.EntityFrameworkCore;

namespace Grace.Web.Components.Charts;

/// <summary>One bucket of a trend (a day, or a week for long periods) in the viewer's time zone.</summary>
public sealed record TrendBucket(DateOnly Start, string Label);

/// <summary>Success rate and runs per playbook, bucket by bucket. A rate is null where the playbook did not run.</summary>
public sealed record PlaybookTrend(IReadOnlyList<TrendBucket> Buckets, IReadOnlyDictionary<string, double?[]> SuccessPercent,
    IReadOnlyDictionary<string, double[]> Runs, int Outcomes, bool Weekly);

/// <summary>Time to recover of one pattern over a period: median, p90 and how many recoveries they rest on.</summary>
public sealed record RecoveryTimes(string PatternKey, double MedianSeconds, double P90Seconds, int Recoveries);

/// <summary>Missions whose action ran, ended on one day: met (the contract held) and failed (action, contract or benchmark failed).</summary>
public sealed record VerificationDay(DateOnly Day, int Met, int Failed);

/// <summary>
/// Verification over a period. <see cref="Met"/> and <see cref="Failed"/> count missions by how they
/// ended, so a mission that failed before its contract was read (the action threw) or was rolled
/// back after its contract held (a benchmark regression) counts as failed, as people expect;
/// <see cref="NotActed"/> counts missions that ended without acting (blocked, rejected, expired, dry runs).
/// </summary>
public sealed record VerificationSummary(IReadOnlyList<VerificationDay> Days, int Met, int Failed, int NotActed, int ContractsFailed, int FailedBeforeContract);

/// <summary>
/// Read models of the console's charts: one short-lived untracked context per query. Counts are
/// aggregated in the database; cutting instants into days is done here, in the viewer's time
/// zone, because the day boundaries move with daylight saving time and because SQLite stores an
/// instant as a binary number (so it can order it) that it cannot cut into days.
/// </summary>
public sealed class ChartQueries(IDbContextFactory<GraceDbContext> dbFactory)
{
    private static readonly MissionState[] Concluded = [MissionState.Succeeded, MissionState.RolledBack, MissionState.Failed];

    public async Task<PlaybookTrend> PlaybookTrendAsync(DateTimeOffset now, int days, TimeZoneInfo zone, CancellationToken cancellationToken)
    {
        var since = now.AddDays(-days);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = await db.Outcomes.AsNoTracking()
            .Where(o => o.At >= since && Concluded.Contains(o.FinalState))
            .Select(o => new { o.At, o.PlaybookKey, o.Success })
            .ToListAsync(cancellationToken);

        // Days up to a month; weeks beyond, so a year is 53 bars, not 365.
        var weekly = days > 31;
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, zone).Date);
        var first = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(since, zone).Date);
        DateOnly BucketOf(DateTimeOffset at)
        {
            var day = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(at, zone).Date);
            return weekly ? first.AddDays((day.DayNumber - first.DayNumber) / 7 * 7) : day;
        }

        // Only buckets from the first outcome on: a fresh install shows its one day, not 29 empty ones before it.
        var used = rows.Select(r => BucketOf(r.At)).ToHashSet();
        var buckets = new List<TrendBucket>();
        if (used.Count > 0)
        {
            for (var b = used.Min(); b <= today; b = b.AddDays(weekly ? 7 : 1))
            {
                buckets.Add(new TrendBucket(b, weekly ? $"wk {b.ToString("MMM d", System.Globalization.CultureInfo.InvariantCulture)}" : b.ToString("MMM d", System.Globalization.CultureInfo.InvariantCulture)));
            }
        }

        var index = buckets.Select((b, i) => (b.Start, i)).ToDictionary(x => x.Start, x => x.i);
        var success = new Dictionary<string, double?[]>();
        var runs = new Dictionary<string, double[]>();
        foreach (var playbook in rows.GroupBy(r => r.PlaybookKey).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var rate = new double?[buckets.Count];
            var count = new double[buckets.Count];
            foreach (var bucket in playbook.GroupBy(r => BucketOf(r.At)))
            {
                var i = index[bucket.Key];
                count[i] = bucket.Count();
                rate[i] = Math.Round(100.0 * bucket.Count(r => r.Success) / bucket.Count(), 1);
            }

            success[playbook.Key] = rate;
            runs[playbook.Key] = count;
        }

        return new PlaybookTrend(buckets, success, runs, rows.Count, weekly);
    }

    public async Task<IReadOnlyList<RecoveryTimes>> RecoveryTimesAsync(DateTimeOffset now, int days, CancellationToken cancellationToken)
    {
        var since = now.AddDays(-days);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        // Percentiles are not portable SQL (PostgreSQL has percentile_cont, SQLite has none): the
        // recovered outcomes are read as two columns and ranked here.
        var rows = await db.Outcomes.AsNoTracking()
            .Where(o => o.At >= since && o.TimeToRecoverSeconds != null)
            .Select(o => new { o.PatternKey, Seconds = o.TimeToRecoverSeconds!.Value })
            .ToListAsync(cancellationToken);
        return rows.GroupBy(r => r.PatternKey).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new RecoveryTimes(g.Key, HumanFormat.Median(g.Select(r => r.Seconds)), HumanFormat.Percentile(g.Select(r => r.Seconds), 0.9), g.Count()))
            .ToList();
    }

    public async Task<VerificationSummary> VerificationAsync(DateTimeOffset now, int days, TimeZoneInfo zone, CancellationToken cancellationToken)
    {
        var since = now.AddDays(-days);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        // A terminal mission carries CompletedAt; rows from before that column fall back to their last change.
        var ended = db.Missions.AsNoTracking().Where(m => MissionStates.Terminal.Contains(m.State) && (m.CompletedAt ?? m.UpdatedAt) >= since);
        var byState = (await ended.GroupBy(m => m.State).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(cancellationToken))
            .ToDictionary(g => g.Key, g => g.Count);
        var contractsFailed = await ended.CountAsync(m => Concluded.Contains(m.State) && m.State != MissionState.Succeeded && m.Contract!.Verdict == ContractVerdict.Failed, cancellationToken);
        var beforeContract = await ended.CountAsync(m => m.State == MissionState.Failed && (m.Contract == null || m.Contract.Verdict == ContractVerdict.Pending), cancellationToken);
        var rows = await ended.Where(m => Concluded.Contains(m.State)).Select(m => new { At = m.CompletedAt ?? m.UpdatedAt, m.State }).ToListAsync(cancellationToken);
        var perDay = rows.GroupBy(r => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(r.At, zone).Date))
            .OrderBy(g => g.Key)
            .Select(g => new VerificationDay(g.Key, g.Count(r => r.State == MissionState.Succeeded), g.Count(r => r.State != MissionState.Succeeded)))
            .ToList();
        int Of(MissionState s) => byState.GetValueOrDefault(s);
        var notActed = Of(MissionState.Blocked) + Of(MissionState.Rejected) + Of(MissionState.Expired) + Of(MissionState.DryRunCompleted);
        return new VerificationSummary(perDay, Of(MissionState.Succeeded), Of(MissionState.Failed) + Of(MissionState.RolledBack), notActed, contractsFailed, beforeContract);
    }
}
