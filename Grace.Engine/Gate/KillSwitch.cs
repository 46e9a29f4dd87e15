using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Missions;
using Grace.Engine.Notifications;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Gate;

/// <summary>
/// The global stop: while engaged, no action runs. Persisted, so it survives restarts; until a
/// person first sets it, <c>Grace:Engine:KillSwitch</c> gives its state.
/// </summary>
public sealed class KillSwitch(IDbContextFactory<GraceDbContext> dbFactory, IOptions<EngineOptions> options, IPipelineNotifier notifier, TimeProvider time,
    Audit.AuditTrail audit, Notifications.Outbox.NotificationOutbox? outbox = null)
{
    internal const string SettingKey = "kill-switch";

    public async Task<bool> IsEngagedAsync(CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var setting = await db.EngineSettings.AsNoTracking().SingleOrDefaultAsync(s => s.Key == SettingKey, cancellationToken);
        return Engaged(setting?.Value);
    }

    /// <summary>The switch's state from its stored value (null: never set by a person, so the configuration says).</summary>
    internal bool Engaged(string? stored) => stored is null ? options.Value.KillSwitch : bool.Parse(stored);

    /// <summary>Engages or releases the switch. Leads and Admins only; audited with the reason.</summary>
    public async Task SetAsync(bool engaged, Actor actor, string? reason, CancellationToken cancellationToken)
    {
        if (!actor.CanChangePolicy)
        {
            throw new MissionOperationException($"{actor.Name} may not change the kill switch: it needs the Lead or Admin role.", forbidden: true);
        }

        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var setting = await db.EngineSettings.SingleOrDefaultAsync(s => s.Key == SettingKey, cancellationToken);
        if (setting is null)
        {
            setting = new EngineSetting { Key = SettingKey, Value = "", UpdatedBy = actor.Name };
            db.EngineSettings.Add(setting);
        }

        setting.Value = engaged.ToString();
        setting.UpdatedAt = now;
        setting.UpdatedBy = actor.Name;
        audit.Add(db, actor, engaged ? "kill-switch.engage" : "kill-switch.release", "engine", reason, now);
        if (outbox is not null)
        {
            await outbox.AddKillSwitchChangedAsync(db, engaged, actor.Name, reason, now, cancellationToken);
        }

        await db.SaveChangesAsync(cancellationToken);
        notifier.Publish(new KillSwitchChanged(now, engaged, actor.Name, reason));
    }
}
