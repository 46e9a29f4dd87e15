using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Registry;

namespace Grace.Engine.Notifications.Outbox;

/// <summary>An outbox row was delivered, failed, was given up or was queued again.</summary>
public sealed record NotificationChanged(DateTimeOffset At, Guid NotificationId, NotificationKind Kind, string Channel, NotificationStatus Status, int Attempts)
    : PipelineEvent(At);

/// <summary>
/// Delivers the outbox. Due rows are claimed one by one with a conditional update (a lease), so
/// several instances on one database never send a row at the same time; each send runs under a
/// Polly timeout; a failure is written back with the next attempt time (exponential backoff),
/// so the schedule survives restarts; after <c>MaxAttempts</c> the row is given up.
/// </summary>
public sealed class NotificationDispatcher(
    IDbContextFactory<GraceDbContext> dbFactory,
    IOptionsMonitor<NotificationOptions> options,
    Cluster.GraceInstance instance,
    IEnumerable<INotificationChannel> channels,
    AlertmanagerSilencer silencer,
    ResiliencePipelineProvider<string> pipelines,
    IPipelineNotifier notifier,
    Audit.AuditTrail auditTrail,
    TimeProvider time,
    ILogger<NotificationDispatcher> logger) : BackgroundService
{
    /// <summary>The Polly pipeline (a timeout) around every delivery.</summary>
    public const string PipelineKey = "grace:notify";

    private readonly Dictionary<ChannelKind, INotificationChannel> _channels = channels.ToDictionary(c => c.Kind);
    // The instance's cluster name plus the process id: a restarted instance never mistakes its predecessor's leases for its own.
    private readonly string _instance = $"{instance.Name}:{Environment.ProcessId}:notify";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.CurrentValue.DeliveryEnabled)
        {
            logger.LogInformation("Notification delivery is off on this instance (Grace:Notifications:DeliveryEnabled); rows are stored for another instance");
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await DeliverDueAsync(stoppingToken) > 0)
                {
                    continue;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "The notification outbox could not be read; trying again");
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(options.CurrentValue.PollIntervalSeconds), time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Claims and delivers the rows that are due now. Returns how many were tried.</summary>
    public async Task<int> DeliverDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        List<Guid> due;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            due = await db.Notifications.AsNoTracking()
                .Where(n => (n.Status == NotificationStatus.Pending || n.Status == NotificationStatus.Failing) && n.NextAttemptAt <= now
                    && (n.LeaseUntil == null || n.LeaseUntil < now))
                .OrderBy(n => n.NextAttemptAt).ThenBy(n => n.CreatedAt)
                .Select(n => n.Id)
                .Take(50)
                .ToListAsync(cancellationToken);
        }

        var tried = 0;
        // A few at once: one slow receiver must not hold up every other channel.
        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (id, ct) =>
        {
            if (await TryClaimAsync(id, ct) is { } row)
            {
                Interlocked.Increment(ref tried);
                await DeliverAsync(row, ct);
            }
        });
        return tried;
    }

    private async Task<Notification?> TryClaimAsync(Guid id, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var until = now.AddSeconds(options.CurrentValue.LeaseSeconds);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var claimed = await db.Notifications
            .Where(n => n.Id == id && (n.Status == NotificationStatus.Pending || n.Status == NotificationStatus.Failing) && n.NextAttemptAt <= now
                && (n.LeaseUntil == null || n.LeaseUntil < now))
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.LeaseOwner, _instance).SetProperty(n => n.LeaseUntil, until), cancellationToken);
        return claimed == 1 ? await db.Notifications.AsNoTracking().SingleAsync(n => n.Id == id, cancellationToken) : null;
    }

    private async Task DeliverAsync(Notification row, CancellationToken cancellationToken)
    {
        string? externalId = null;
        string? audit = null;
        string? error = null;
        var permanent = false;
        try
        {
            var content = NotificationContent.FromJson(row.Payload);
            await pipelines.GetPipeline(PipelineKey).ExecuteAsync(async ct =>
            {
                switch (row.Kind)
                {
                    case NotificationKind.AlertSilence:
                        (externalId, audit) = await silencer.CreateAsync(content, ct);
                        break;
                    case NotificationKind.AlertSilenceExpire:
                        audit = await silencer.ExpireAsync(dbFactory, row, ct);
                        break;
                    default:
                        var kinds = options.CurrentValue.ChannelKinds();
                        if (!kinds.TryGetValue(row.Channel, out var kind))
                        {
                            throw new NotificationDeliveryException($"Channel '{row.Channel}' is no longer configured under {NotificationOptions.Section}.", permanent: true);
                        }

                        await _channels[kind].SendAsync(row.Channel, row, content, ct);
                        break;
                }
            }, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the lease runs out and the row is tried again, here or elsewhere.
            return;
        }
        catch (NotificationDeliveryException ex)
        {
            error = ex.Message;
            permanent = ex.Permanent;
        }
        catch (Polly.Timeout.TimeoutRejectedException)
        {
            error = $"No answer within {options.CurrentValue.TimeoutSeconds:G} s (Grace:Notifications:TimeoutSeconds).";
        }
        catch (System.Text.Json.JsonException ex)
        {
            error = $"The stored payload could not be read: {ex.Message}";
            permanent = true;
        }
        catch (Exception ex)
        {
            error = $"{ex.GetType().Name}: {ex.Message}";
        }

        await RecordAsync(row, error, permanent, externalId, audit);
    }

    private async Task RecordAsync(Notification row, string? error, bool permanent, string? externalId, string? audit)
    {
        var now = time.GetUtcNow();
        var attempts = row.Attempts + 1;
        var settings = options.CurrentValue;
        var status = error is null ? NotificationStatus.Delivered
            : permanent || attempts >= settings.MaxAttempts ? NotificationStatus.GivenUp
            : NotificationStatus.Failing;
        var next = status == NotificationStatus.Failing ? now + Backoff(attempts, settings) : row.NextAttemptAt;
        var lastError = error is null ? null : NotificationOutbox.Shorten(error, Notification.LastErrorMaxLength);

        // Written even if the host is stopping: a sent message must not be sent again for want of this update.
        await using var db = await dbFactory.CreateDbContextAsync(CancellationToken.None);
        var strategy = db.Database.CreateExecutionStrategy();
        var updated = await strategy.ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(CancellationToken.None);
            var count = await db.Notifications.Where(n => n.Id == row.Id && n.LeaseOwner == _instance)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(n => n.Status, status)
                    .SetProperty(n => n.Attempts, attempts)
                    .SetProperty(n => n.NextAttemptAt, next)
                    .SetProperty(n => n.LastError, lastError)
                    .SetProperty(n => n.DeliveredAt, status == NotificationStatus.Delivered ? now : (DateTimeOffset?)null)
                    .SetProperty(n => n.ExternalId, externalId ?? row.ExternalId)
                    .SetProperty(n => n.LeaseOwner, (string?)null)
                    .SetProperty(n => n.LeaseUntil, (DateTimeOffset?)null), CancellationToken.None);
            if (count == 1 && status == NotificationStatus.Delivered && audit is not null)
            {
                auditTrail.Add(db, Missions.Actor.Engine, row.Kind == NotificationKind.AlertSilence ? "alertmanager.silence" : "alertmanager.expire-silence",
                    $"mission/{row.MissionId}", audit, now);
                await db.SaveChangesAsync(CancellationToken.None);
            }

            await transaction.CommitAsync(CancellationToken.None);
            return count;
        });

        if (updated == 0)
        {
            logger.LogWarning("Notification {NotificationId} was taken over by another instance before its result was written", row.Id);
            return;
        }

        if (status == NotificationStatus.Delivered)
        {
            logger.LogInformation("Notification {Kind} to {Channel} delivered (attempt {Attempt})", row.Kind, row.Channel, attempts);
        }
        else
        {
            logger.LogWarning("Notification {Kind} to {Channel} failed (attempt {Attempt} of {Max}){Outcome}: {Error}", row.Kind, row.Channel, attempts, settings.MaxAttempts,
                status == NotificationStatus.GivenUp ? "; given up" : $"; next attempt at {next:u}", error);
        }

        notifier.Publish(new NotificationChanged(now, row.Id, row.Kind, row.Channel, status, attempts));
    }

    /// <summary>The wait after the n-th failure: doubling from the initial backoff, capped, with up to 10 % jitter so instances spread out.</summary>
    internal static TimeSpan Backoff(int failures, NotificationOptions settings)
    {
        var seconds = Math.Min(settings.MaxBackoffSeconds, settings.InitialBackoffSeconds * Math.Pow(2, Math.Max(0, failures - 1)));
        return TimeSpan.FromSeconds(seconds * (1 + (Random.Shared.NextDouble() * 0.1)));
    }
}

/// <summary>The Admins' view of the outbox: what was delivered, what fails and why, what was given up; and a retry.</summary>
public sealed class NotificationAdmin(IDbContextFactory<GraceDbContext> dbFactory, IPipelineNotifier notifier, Audit.AuditTrail audit, TimeProvider time)
{
    public async Task<IReadOnlyList<Notification>> ListAsync(NotificationStatus? status, int take, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var query = db.Notifications.AsNoTracking();
        if (status is { } s)
        {
            query = query.Where(n => n.Status == s);
        }

        return await query.OrderByDescending(n => n.CreatedAt).Take(Math.Clamp(take, 1, 1000)).ToListAsync(cancellationToken);
    }

    /// <summary>Counts per status, for the page's filter chips.</summary>
    public async Task<IReadOnlyDictionary<NotificationStatus, int>> CountsAsync(CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var counts = await db.Notifications.AsNoTracking().GroupBy(n => n.Status).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(cancellationToken);
        return counts.ToDictionary(c => c.Key, c => c.Count);
    }

    /// <summary>Queues a failing or given-up row again now, with a fresh round of attempts. Admins only; audited.</summary>
    public async Task RetryAsync(Guid id, Missions.Actor actor, CancellationToken cancellationToken)
    {
        if (!actor.Can(Missions.Permission.Administer))
        {
            throw new Missions.MissionOperationException($"{actor.Name} may not retry notifications: it needs the Admin role.", forbidden: true);
        }

        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var row = await db.Notifications.SingleOrDefaultAsync(n => n.Id == id, cancellationToken)
            ?? throw new Missions.MissionOperationException($"Notification {id} does not exist.", notFound: true);
        if (row.Status is NotificationStatus.Delivered or NotificationStatus.Pending)
        {
            throw new Missions.MissionOperationException($"Notification {id} is {row.Status}: only failing or given-up notifications are retried.");
        }

        var updated = await db.Notifications
            .Where(n => n.Id == id && (n.Status == NotificationStatus.Failing || n.Status == NotificationStatus.GivenUp) && (n.LeaseUntil == null || n.LeaseUntil < now))
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.Status, NotificationStatus.Pending).SetProperty(n => n.Attempts, 0).SetProperty(n => n.NextAttemptAt, now), cancellationToken);
        if (updated == 0)
        {
            throw new Missions.MissionOperationException($"Notification {id} is being delivered right now.");
        }

        audit.Add(db, actor, "notification.retry", $"notification/{id}",
            $"{row.Kind} to {row.Channel} after {row.Attempts} attempt(s); last error: {row.LastError}", now);
        await db.SaveChangesAsync(cancellationToken);
        notifier.Publish(new NotificationChanged(now, id, row.Kind, row.Channel, NotificationStatus.Pending, 0));
    }
}
