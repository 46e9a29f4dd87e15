using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Missions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Gate;

/// <summary>
/// The tier of each playbook: as configured, unless a Lead or Admin changed it in the console
/// (persisted, audited, applied to missions planned from then on).
/// </summary>
public sealed class PlaybookTiers(IDbContextFactory<GraceDbContext> dbFactory, IOptionsMonitor<CatalogOptions> catalog, Audit.AuditTrail audit, TimeProvider time)
{
    private const string Prefix = "playbook-tier:";

    public async Task<IReadOnlyDictionary<string, int>> OverridesAsync(CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = await db.EngineSettings.AsNoTracking().Where(s => s.Key.StartsWith(Prefix)).ToListAsync(cancellationToken);
        return rows.ToDictionary(r => r.Key[Prefix.Length..], r => int.Parse(r.Value, System.Globalization.CultureInfo.InvariantCulture), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The engine setting that holds a playbook's tier when a person changed it.</summary>
    public static string SettingKey(string playbookKey) => Prefix + playbookKey;

    public async Task<int> TierOfAsync(GraceDbContext db, string playbookKey, CancellationToken cancellationToken)
    {
        var setting = await db.EngineSettings.AsNoTracking().SingleOrDefaultAsync(s => s.Key == Prefix + playbookKey, cancellationToken);
        return TierOf(playbookKey, setting?.Value);
    }

    /// <summary>A playbook's tier from its setting's value (read by the caller, e.g. with others in one query), or as configured when it has none.</summary>
    public int TierOf(string playbookKey, string? setting) =>
        setting is not null ? int.Parse(setting, System.Globalization.CultureInfo.InvariantCulture) : catalog.CurrentValue.Playbooks[playbookKey].Tier;

    /// <summary>
    /// Writes a playbook's tier in the caller's unit of work (the caller checked who may, and audits
    /// it with its own evidence). Returns the tier that was in force before.
    /// </summary>
    public async Task<int> ApplyAsync(GraceDbContext db, string playbookKey, int tier, string by, CancellationToken cancellationToken)
    {
        var key = Prefix + playbookKey;
        var setting = await db.EngineSettings.SingleOrDefaultAsync(s => s.Key == key, cancellationToken);
        var before = setting is not null ? int.Parse(setting.Value, System.Globalization.CultureInfo.InvariantCulture) : catalog.CurrentValue.Playbooks[playbookKey].Tier;
        if (setting is null)
        {
            setting = new EngineSetting { Key = key, Value = "", UpdatedBy = by };
            db.EngineSettings.Add(setting);
        }

        setting.Value = tier.ToString(System.Globalization.CultureInfo.InvariantCulture);
        setting.UpdatedAt = time.GetUtcNow();
        setting.UpdatedBy = by;
        return before;
    }

    /// <summary>Changes a playbook's tier. Leads and Admins only; the reason is required and audited.</summary>
    public async Task SetAsync(string playbookKey, int tier, Actor actor, string? reason, CancellationToken cancellationToken)
    {
        if (!actor.CanChangePolicy)
        {
            throw new MissionOperationException($"{actor.Name} may not change tiers: it needs the Lead or Admin role.", forbidden: true);
        }

        if (!catalog.CurrentValue.Playbooks.TryGetValue(playbookKey, out var playbook))
        {
            throw new MissionOperationException($"Playbook '{playbookKey}' is not configured.");
        }

        if (tier is < 0 or > 3)
        {
            throw new MissionOperationException("A tier is 0, 1, 2 or 3.");
        }

        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new MissionOperationException("Changing a tier needs a reason.");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var key = Prefix + playbookKey;
        var setting = await db.EngineSettings.SingleOrDefaultAsync(s => s.Key == key, cancellationToken);
        var before = setting?.Value ?? playbook.Tier.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (setting is null)
        {
            setting = new EngineSetting { Key = key, Value = "", UpdatedBy = actor.Name };
            db.EngineSettings.Add(setting);
        }

        setting.Value = tier.ToString(System.Globalization.CultureInfo.InvariantCulture);
        setting.UpdatedAt = time.GetUtcNow();
        setting.UpdatedBy = actor.Name;
        audit.Add(db, actor, "playbook.tier", $"playbook/{playbookKey}", $"tier {before} → {tier}: {reason}");
        await db.SaveChangesAsync(cancellationToken);
    }
}
