using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Verify;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.FeatureManagement;

namespace Grace.Engine.Execute;

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

/// <summary>
/// <c>feature-flag.set</c>: turns a flag on or off (<c>Flag</c>, <c>Enabled</c>) through a
/// persisted override; the snapshot keeps the previous override, which the rollback restores.
/// An approval holds for the flag's value the approvers saw: turned on or off by someone else
/// since, it needs a new approval.
/// </summary>
public sealed class FeatureFlagExecutor(FeatureFlagOverrides overrides, IFeatureManager features) : IRemediationExecutor
{
    public string Action => "feature-flag.set";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Grace };
    public bool CanRollback => true;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        if (!parameters.TryGetValue("Flag", out var flag) || string.IsNullOrWhiteSpace(flag))
        {
            yield return "Parameters:Flag is required (a flag name under FeatureManagement).";
        }

        if (!parameters.TryGetValue("Enabled", out var enabled) || !bool.TryParse(enabled, out _))
        {
            yield return "Parameters:Enabled must be true or false.";
        }
    }

    public string Describe(ActionRequest request) =>
        $"Turns feature flag '{request.Parameters["Flag"]}' {(bool.Parse(request.Parameters["Enabled"]) ? "on" : "off")} (persisted; the previous setting is kept for rollback).";

    public async Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var flag = request.Parameters["Flag"];
        var now = await features.IsEnabledAsync(flag);
        var previous = await overrides.OverrideOfAsync(flag);
        var value = new FlagValue(flag, now);
        return Consent.Snapshot(JsonSerializer.Serialize(new FlagState(flag, previous)),
            $"Flag '{flag}' is {(now ? "on" : "off")}" + (previous is null ? " (from configuration)." : " (overridden)."), value, value.Describe());
    }

    public string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<FlagValue>(approved) is { } was && Consent.Read<FlagValue>(current) is { } now
            ? $"flag '{now.Flag}' was turned {(now.Enabled ? "on" : "off")} since the approvers saw it {(was.Enabled ? "on" : "off")}"
            : Consent.Compare(approved, current);

    /// <summary>What setting a flag depends on: its value now.</summary>
    internal sealed record FlagValue(string Flag, bool Enabled)
    {
        public string Describe() => $"flag '{Flag}' {(Enabled ? "on" : "off")}";
    }

    public async Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var flag = request.Parameters["Flag"];
        var enabled = bool.Parse(request.Parameters["Enabled"]);
        await overrides.SetAsync(flag, enabled, $"mission/{request.MissionId}", cancellationToken);
        return new ActionResult($"Flag '{flag}' is now {(await features.IsEnabledAsync(flag) ? "on" : "off")}.");
    }

    public async Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var state = JsonSerializer.Deserialize<FlagState>(snapshot.State)!;
        await overrides.SetAsync(state.Flag, state.Override, $"mission/{request.MissionId}", cancellationToken);
        return $"Flag '{state.Flag}' restored to {(state.Override is null ? "its configured value" : state.Override.Value ? "on" : "off")}.";
    }

    private sealed record FlagState(string Flag, bool? Override);
}

/// <summary><c>feature-flag.enabled</c>: 1 when the flag named by <c>Flag</c> is on.</summary>
public sealed class FeatureFlagProbe(IFeatureManager features) : IProbe
{
    public string Key => "feature-flag.enabled";
    public string Unit => "on";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Grace };

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        if (!parameters.ContainsKey("Flag"))
        {
            yield return "Parameters:Flag is required.";
        }
    }

    public async Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken) =>
        await features.IsEnabledAsync(request.Parameters["Flag"]) ? 1 : 0;
}
