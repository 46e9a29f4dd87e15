using System.Collections.Concurrent;
using Grace.Engine.Adapters;
using Grace.Engine.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Targets;

/// <summary>A configured target with its kind's own settings bound (paths made absolute, URLs parsed).</summary>
public sealed record ResolvedTarget(string Key, TargetKind Kind, string? Description, TargetOptions Options, object? KindSettings)
{
    /// <summary>The kind's settings; a clear refusal when the target is not of that kind or not configured.</summary>
    public T Settings<T>() where T : class => KindSettings as T
        ?? throw new Execute.ActionRefusedException($"Target '{Key}' ({Kind}) has no usable {typeof(T).Name.Replace("Target", "", StringComparison.Ordinal)} settings; see Grace:Targets:{Key}.");

    public override string ToString() => $"{Key} ({Kind})";
}

/// <summary>
/// The kinds of target the adapter modules registered, by name, and what a kind says about one
/// target's options. Depends on nothing that reads the catalog, so the catalog check can use it.
/// </summary>
public sealed class TargetKinds(IEnumerable<ITargetKindAdapter> adapters, IConfiguration configuration)
{
    private readonly Dictionary<TargetKind, ITargetKindAdapter> _byKind = adapters.ToDictionary(a => a.Kind);
    private readonly ConcurrentDictionary<string, TargetSettings> _settings = new(StringComparer.OrdinalIgnoreCase);

    public IEnumerable<TargetKind> All => _byKind.Keys.OrderBy(k => k.Name, StringComparer.OrdinalIgnoreCase);

    public bool TryGet(TargetKind kind, out ITargetKindAdapter adapter) => _byKind.TryGetValue(kind, out adapter!);

    /// <summary>The kind's settings of a target, bound once from its section of <c>Grace:Targets</c>.</summary>
    public TargetSettings SettingsOf(string key, TargetOptions options) =>
        TryGet(options.Kind, out var adapter)
            ? _settings.GetOrAdd(key, _ => adapter.Bind(key, configuration.GetSection($"{CatalogOptions.Section}:Targets:{key}")))
            : new TargetSettings(null, Problems: [$"Kind '{options.Kind}' is not a target kind; use one of {string.Join(", ", All)}."]);

    /// <summary>True when only one machine can act on the target (see <see cref="TargetOptions.Instance"/>).</summary>
    public bool IsHostBound(TargetOptions options) => options.Instance is not null || (TryGet(options.Kind, out var adapter) && adapter.IsHostBound);

    /// <summary>
    /// Replaces a target's bound settings with what is only known once it runs: Grace's demo service
    /// configured on port 0 learns its port from the system, and probes, actions and benchmarks then use it.
    /// </summary>
    public void UseSettings(string key, TargetSettings settings) => _settings[key] = settings;
}

/// <summary>
/// Resolves target keys from <c>Grace:Targets</c>: the common options, and the kind's own settings
/// bound by its adapter from the same section (once per target).
/// </summary>
public sealed class TargetRegistry(IOptionsMonitor<CatalogOptions> catalog, TargetKinds kinds)
{
    /// <summary>The configured target keys.</summary>
    public IEnumerable<string> Keys => catalog.CurrentValue.Targets.Keys;

    /// <summary>The kind's settings of a target.</summary>
    public TargetSettings SettingsOf(string key, TargetOptions options) => kinds.SettingsOf(key, options);

    /// <summary>Uses <paramref name="settings"/> for a target from now on (see <see cref="TargetKinds.UseSettings"/>).</summary>
    public void UseSettings(string key, object settings) => kinds.UseSettings(key, TargetSettings.Of(settings));

    public bool TryResolve(string key, out ResolvedTarget target)
    {
        if (!catalog.CurrentValue.Targets.TryGetValue(key, out var options))
        {
            target = null!;
            return false;
        }

        target = new ResolvedTarget(key, options.Kind, options.Description, options, SettingsOf(key, options).Value);
        return true;
    }

    public ResolvedTarget Resolve(string key) =>
        TryResolve(key, out var target) ? target : throw new InvalidOperationException($"Target '{key}' is not configured under Grace:Targets.");

    /// <summary>
    /// Why a target cannot be used yet, naming the setting to give it: an <see cref="TargetOptions.Optional"/>
    /// target left unconfigured, or one with nothing to act on here. Null when it is usable.
    /// </summary>
    public string? Unconfigured(string key)
    {
        if (!catalog.CurrentValue.Targets.TryGetValue(key, out var options))
        {
            return null;
        }

        var settings = SettingsOf(key, options);
        if (settings.Idle is { } idle)
        {
            return $"Target '{key}' {idle}: it has nothing to act on.";
        }

        return options.Optional && settings.Missing is { } missing
            ? $"Target '{key}' is optional and not configured: set Grace:Targets:{key}:{missing.Setting} to use it (it {missing.Why})."
            : null;
    }

    /// <summary>True when only one machine can act on the target (see <see cref="TargetOptions.Instance"/>).</summary>
    public bool IsHostBound(TargetOptions options) => kinds.IsHostBound(options);

    /// <summary>Whether a failure of a call to a target is worth a retry: the target's kind decides, beyond timeouts.</summary>
    public bool IsTransient(string key, Exception exception) =>
        catalog.CurrentValue.Targets.TryGetValue(key, out var options) && kinds.TryGet(options.Kind, out var adapter) && adapter.IsTransient(exception);
}

/// <summary>Makes configured paths absolute, relative to the content root.</summary>
public sealed class PathResolver(IHostEnvironment environment)
{
    public string Resolve(string path) => System.IO.Path.GetFullPath(System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.Combine(environment.ContentRootPath, path));
}
