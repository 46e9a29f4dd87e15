using Grace.Data;
using Grace.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Grace.Engine.Telemetry;

/// <summary>What the gauges report, read from the database in one go.</summary>
public sealed record TelemetryFigures(long OpenIncidents, long PendingApprovals, double OldestPendingSeconds);

/// <summary>
/// The database-wide figures behind Grace's gauges (open incidents, pending approvals and the
/// oldest one's age). An observable gauge is read on the exporter's thread, synchronously: it must
/// not wait on the database, so a loop refreshes these every few seconds and the gauge reads the
/// last figures. Every instance of a cluster reports the same figures (they are the database's).
/// </summary>
public sealed class TelemetrySnapshot(IDbContextFactory<GraceDbContext> dbFactory, TimeProvider time, ILogger<TelemetrySnapshot> logger) : BackgroundService
{
    /// <summary>How often the figures are read.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    private volatile TelemetryFigures _current = new(0, 0, 0);

    public TelemetryFigures Current => _current;

    /// <summary>Reads the figures now.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var open = await db.Incidents.AsNoTracking().LongCountAsync(i => i.Status != IncidentStatus.Resolved, cancellationToken);
        var pending = await db.Approvals.AsNoTracking().Where(a => a.Status == ApprovalStatus.Pending).Select(a => a.RequestedAt).ToListAsync(cancellationToken);
        var oldest = pending.Count == 0 ? 0 : Math.Max(0, (time.GetUtcNow() - pending.Min()).TotalSeconds);
        _current = new TelemetryFigures(open, pending.Count, oldest);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await RefreshAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // The last figures stay; a database outage has its own signals.
                    logger.LogDebug(ex, "Telemetry figures could not be read");
                }

                await Task.Delay(Interval, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
