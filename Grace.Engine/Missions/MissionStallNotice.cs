using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Notifications;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace Grace.Engine.Missions;

/// <summary>
/// Makes a mission that keeps failing to move visible. Its grain never gives up on it (the cause is
/// usually passing: the database away, a target's instance gone), but a lasting cause must not leave
/// it sitting in its state with nothing said: after <see cref="AfterFailures"/> failed attempts in a
/// row its status says what failed and that Grace keeps trying, and the first move after that clears
/// it. Only the status is written (no state, no concurrency token), so this never races the steps.
/// </summary>
public sealed class MissionStallNotice(IDbContextFactory<GraceDbContext> dbFactory, IPipelineNotifier notifier, TimeProvider time, ILogger<MissionStallNotice> logger)
{
    /// <summary>Failed attempts in a row (about 3 s of backing off) before the mission says so.</summary>
    public const int AfterFailures = 3;

    /// <summary>How every stall status begins; the first move after it clears only a status that does.</summary>
    public const string Prefix = "Grace could not move this mission";

    public async Task StalledAsync(Guid missionId, int failures, Exception error, TimeSpan nextTry)
    {
        var reason = $"{Prefix} ({failures} attempts in a row): {error.Message} It tries again in {Math.Ceiling(nextTry.TotalSeconds):0} s, and keeps trying.";
        if (reason.Length > ColumnLimits.ShortText)
        {
            reason = reason[..ColumnLimits.ShortText];
        }

        try
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            var updated = await db.Missions
                .Where(m => m.Id == missionId && m.CompletedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.StatusReason, reason));
            if (updated > 0)
            {
                await PublishAsync(db, missionId, reason);
            }
        }
        catch (Exception ex)
        {
            // The same cause (the database away) may stop this too; the grain's warning already says it.
            logger.LogDebug(ex, "Could not record that mission {MissionId} is stalled", missionId);
        }
    }

    public async Task MovedAgainAsync(Guid missionId)
    {
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            var updated = await db.Missions
                .Where(m => m.Id == missionId && m.StatusReason != null && m.StatusReason.StartsWith(Prefix))
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.StatusReason, (string?)null));
            if (updated > 0)
            {
                await PublishAsync(db, missionId, "Grace moves this mission again.");
            }
        }
        catch (Exception ex)
        {
            logger.LogDebug(ex, "Could not clear the stall status of mission {MissionId}", missionId);
        }
    }

    private async Task PublishAsync(GraceDbContext db, Guid missionId, string message)
    {
        if (await db.Missions.AsNoTracking().Where(m => m.Id == missionId)
                .Select(m => new { m.IncidentId, m.PlaybookKey, m.Target, m.Tier, m.State, m.Stage })
                .SingleOrDefaultAsync() is { } m)
        {
            notifier.Publish(new MissionUpdated(time.GetUtcNow(), missionId, m.IncidentId, m.PlaybookKey, m.Target, m.Tier, m.State, m.Stage, Actor.EngineName, message));
        }
    }
}
