using Grace.Data;
using Microsoft.EntityFrameworkCore;

namespace Grace.Engine.Capture;

/// <summary>
/// The capture stage's own figures: nothing dropped goes unseen. Intake figures are this
/// instance's since it started (<paramref name="Since"/>: they live in memory and start again at zero);
/// held-back mission starts are counted on the incidents, for the whole cluster.
/// </summary>
public sealed record CaptureStatistics(long Accepted, long Dropped, int Buffered, int Capacity, long Processed, long Failed, long StormSuppressed, DateTimeOffset Since);

/// <summary>What the capture loop stored, and what it lost because Grace stopped first.</summary>
public sealed class CaptureCounters(TimeProvider time)
{
    private long _stored;
    private long _lost;

    /// <summary>When this instance began counting (the in-memory figures start from zero at every start).</summary>
    public DateTimeOffset Since { get; } = time.GetUtcNow();

    /// <summary>Signals written into incidents so far.</summary>
    public long Processed => Interlocked.Read(ref _stored);

    /// <summary>Signals lost because Grace stopped before it could store them.</summary>
    public long Failed => Interlocked.Read(ref _lost);

    internal void Stored(int count) => Interlocked.Add(ref _stored, count);

    internal void Lost(int count) => Interlocked.Add(ref _lost, count);
}

/// <summary>Reads the figures of the intake, the capture loop and storm control.</summary>
public sealed class CaptureMonitor(SignalIntake intake, CaptureCounters capture, IDbContextFactory<GraceDbContext> dbFactory)
{
    public async Task<CaptureStatistics> ReadAsync(CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var heldBack = await db.Incidents.AsNoTracking().SumAsync(i => (long)i.HeldBackStarts, cancellationToken);
        return new(intake.Accepted, intake.Dropped, intake.Buffered, intake.Capacity, capture.Processed, capture.Failed, heldBack, capture.Since);
    }
}
