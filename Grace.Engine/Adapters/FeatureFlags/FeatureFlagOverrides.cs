using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.FeatureManagement;

namespace Grace.Engine.Adapters.FeatureFlags;

/// <summary>
/// Feature flags as Microsoft.FeatureManagement defines them (the <c>FeatureManagement</c>
/// section), with overrides kept in Grace's database so that a change made by a mission survives
/// restarts. An override turns a flag fully on or off; without one, the configuration decides.
/// </summary>
public sealed class FeatureFlagOverrides(IConfiguration configuration, IDbContextFactory<GraceDbContext> dbFactory, TimeProvider time) : IFeatureDefinitionProvider, IDisposable
{
    private const string Prefix = "feature-flag:";
    private readonly ConfigurationFeatureDefinitionProvider _configured = new(configuration);
    private ConcurrentDictionary<string, bool>? _overrides;
    private readonly SemaphoreSlim _load = new(1, 1);

    public async Task<bool?> OverrideOfAsync(string flag) => (await OverridesAsync()).TryGetValue(flag, out var value) ? value : null;

    /// <summary>Sets (or with null, removes) the override of a flag, persisted.</summary>
    public async Task SetAsync(string flag, bool? enabled, string actor, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var key = Prefix + flag;
        var row = await db.EngineSettings.SingleOrDefaultAsync(s => s.Key == key, cancellationToken);
        if (enabled is null)
        {
            if (row is not null)
            {
                db.EngineSettings.Remove(row);
            }
        }
        else
        {
            if (row is null)
            {
                row = new EngineSetting { Key = key, Value = "", UpdatedBy = actor };
                db.EngineSettings.Add(row);
            }

            row.Value = enabled.Value ? "true" : "false";
            row.UpdatedAt = time.GetUtcNow();
            row.UpdatedBy = actor;
        }

        await db.SaveChangesAsync(cancellationToken);
        var overrides = await OverridesAsync();
        if (enabled is null)
        {
            overrides.TryRemove(flag, out _);
        }
        else
        {
            overrides[flag] = enabled.Value;
        }
    }

    public async Task<FeatureDefinition?> GetFeatureDefinitionAsync(string featureName)
    {
        var configured = await _configured.GetFeatureDefinitionAsync(featureName);
        return (await OverridesAsync()).TryGetValue(featureName, out var enabled) ? Overridden(featureName, enabled) : configured;
    }

    public async IAsyncEnumerable<FeatureDefinition> GetAllFeatureDefinitionsAsync()
    {
        var overrides = await OverridesAsync();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        await foreach (var definition in _configured.GetAllFeatureDefinitionsAsync())
        {
            seen.Add(definition.Name);
            yield return overrides.TryGetValue(definition.Name, out var enabled) ? Overridden(definition.Name, enabled) : definition;
        }

        foreach (var (name, enabled) in overrides.Where(o => !seen.Contains(o.Key)))
        {
            yield return Overridden(name, enabled);
        }
    }

    private static FeatureDefinition Overridden(string name, bool enabled) => new()
    {
        Name = name,
        EnabledFor = enabled ? [new FeatureFilterConfiguration { Name = "AlwaysOn" }] : [],
    };

    private async Task<ConcurrentDictionary<string, bool>> OverridesAsync()
    {
        if (_overrides is { } loaded)
        {
            return loaded;
        }

        await _load.WaitAsync();
        try
        {
            if (_overrides is null)
            {
                await using var db = await dbFactory.CreateDbContextAsync();
                var rows = await db.EngineSettings.AsNoTracking().Where(s => s.Key.StartsWith(Prefix)).ToListAsync();
                _overrides = new ConcurrentDictionary<string, bool>(rows.ToDictionary(r => r.Key[Prefix.Length..], r => r.Value == "true", StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase);
            }

            return _overrides;
        }
        finally
        {
            _load.Release();
        }
    }

    public void Dispose()
    {
        _configured.Dispose();
        _load.Dispose();
    }
}
