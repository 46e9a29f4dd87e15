using Grace.Data;
using Grace.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace Grace.Engine.Telemetry;

/// <summary>What the gauges report, read from the database in one go.</summary>
public sealed record TelemetryFigures(long OpenIncidents, long PendingApprovals, double OldestPendingSeconds);

/// <summary>
/// The database-wide figures behind Grace's gauges (open incidents, pending approvals and the
/// oldest one's age). An observable gauge is read on the exporter's thread, synchronously: it must
/// not wait on the database, so the gauges read the last figures kept here. In a cluster only one
/// instance reads and exports them: the one holding the cluster's <see cref="Cluster.ClusterFiguresGrain"/>,
/// which calls <see cref="RefreshAsync"/> every <see cref="Interval"/>. Every other instance has no
/// figures (<see cref="Current"/> is null) and exports no point for these gauges, so a dashboard's
/// <c>sum()</c> over instances is the database's figure (ADR draft-cluster-gauges).
/// </summary>
public sealed class TelemetrySnapshot(IDbContextFactory<GraceDbContext> dbFactory, TimeProvider time)
{
    /// <summary>How often the cluster's reader reads the figures.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long figures count as this instance's after the reader last touched them. Past it the
    /// reader has moved (or stopped) without saying so, say across a network partition, and this
    /// instance stops exporting rather than report alongside the new holder.
    /// </summary>
    public static readonly TimeSpan HeldFor = 3 * Interval;

    private sealed record Reading(TelemetryFigures Figures, DateTimeOffset At);

    private volatile Reading? _reading;

    /// <summary>The figures this instance exports now, or null when it does not hold the cluster's reader.</summary>
    public TelemetryFigures? Current => _reading is { } r && time.GetUtcNow() - r.At <= HeldFor ? r.Figures : null;

    /// <summary>Reads the figures from the database, without keeping them.</summary>
    public async Task<TelemetryFigures> ReadAsync(CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var open = await db.Incidents.AsNoTracking().LongCountAsync(i => i.Status != IncidentStatus.Resolved, cancellationToken);
        var pending = db.Approvals.AsNoTracking().Where(a => a.Status == ApprovalStatus.Pending);
        var count = await pending.LongCountAsync(cancellationToken);
        // Two aggregates in SQL (a count, and the first row by time) rather than every pending row to take
        // a minimum in memory. Ordering, not Min(): SQLite cannot aggregate a DateTimeOffset column.
        var oldestAt = count == 0 ? null : await pending.OrderBy(a => a.RequestedAt).Select(a => (DateTimeOffset?)a.RequestedAt).FirstOrDefaultAsync(cancellationToken);
        var oldest = oldestAt is { } at ? Math.Max(0, (time.GetUtcNow() - at).TotalSeconds) : 0;
        return new TelemetryFigures(open, count, oldest);
    }

    /// <summary>Reads the figures now and exports them from this instance (the cluster's reader, and tests).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken) => _reading = new Reading(await ReadAsync(cancellationToken), time.GetUtcNow());

    /// <summary>
    /// Keeps exporting the last figures although this read failed: a database outage has its own
    /// signals, and gauges that vanish with it would read as "nobody holds the reader".
    /// </summary>
    public void Renew()
    {
        if (_reading is { } r)
        {
            _reading = r with { At = time.GetUtcNow() };
        }
    }

    /// <summary>This instance stops exporting the figures (the reader left it).</summary>
    public void Release() => _reading = null;
}
