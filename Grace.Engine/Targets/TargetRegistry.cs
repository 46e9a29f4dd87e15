using Grace.Data;
using Grace.Engine.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Targets;

/// <summary>A configured target with its paths made absolute.</summary>
public sealed record ResolvedTarget(string Key, TargetKind Kind, string? Path, string? ConnectionString, string? Url, string? Description, TargetOptions? Options = null);

/// <summary>Resolves target keys from <c>Grace:Targets</c>; paths are relative to the content root.</summary>
public sealed class TargetRegistry(IOptionsMonitor<CatalogOptions> catalog, PathResolver paths, GraceDatabaseInfo database)
{
    /// <summary>The configured target keys.</summary>
    public IEnumerable<string> Keys => catalog.CurrentValue.Targets.Keys;

    public bool TryResolve(string key, out ResolvedTarget target)
    {
        if (!catalog.CurrentValue.Targets.TryGetValue(key, out var options))
        {
            target = null!;
            return false;
        }

        var path = options.Path;
        if (options.Kind == TargetKind.Sqlite && options.UseGraceDatabase)
        {
            path = database.SqliteFilePath;
        }

        target = new ResolvedTarget(key, options.Kind, path is null ? null : ResolvePath(path), options.ConnectionString, options.Url, options.Description, options);
        return true;
    }

    /// <summary>
    /// Why an <see cref="TargetOptions.Optional"/> target cannot be used yet, naming the setting to
    /// give it; null when the target is configured (or not optional: those are checked at start).
    /// </summary>
    public string? Unconfigured(string key)
    {
        if (!catalog.CurrentValue.Targets.TryGetValue(key, out var options))
        {
            return null;
        }

        if (IsIdleGraceDatabase(options, database.Provider))
        {
            return $"Target '{key}' is Grace's own SQLite database, but Grace keeps its data in {database.Provider}: it has nothing to act on.";
        }

        return options.Optional && Missing(options) is { } missing
            ? $"Target '{key}' is optional and not configured: set Grace:Targets:{key}:{missing.Setting} to use it (it {missing.Why})."
            : null;
    }

    /// <summary>
    /// A SQLite target that stands for Grace's own database while Grace runs on a server database:
    /// one configuration file serves both, and this target simply has nothing to do.
    /// </summary>
    public static bool IsIdleGraceDatabase(TargetOptions target, DatabaseProvider provider) =>
        target is { Kind: TargetKind.Sqlite, UseGraceDatabase: true } && provider != DatabaseProvider.Sqlite;

    /// <summary>The setting a target of its kind cannot do without, when it is missing.</summary>
    public static (string Setting, string Why)? Missing(TargetOptions target) => target.Kind switch
    {
        TargetKind.Sqlite when !target.UseGraceDatabase && string.IsNullOrWhiteSpace(target.Path) => ("Path", "is required for a Sqlite target"),
        TargetKind.Directory when string.IsNullOrWhiteSpace(target.Path) => ("Path", "is required for a Directory target"),
        TargetKind.Http when !Uri.TryCreate(target.Url, UriKind.Absolute, out _) => ("Url", "must be an absolute URL for an Http target"),
        TargetKind.Process when string.IsNullOrWhiteSpace(target.Command) => ("Command", "is required for a Process target (the executable Grace starts and supervises)"),
        TargetKind.Postgres or TargetKind.SqlServer when string.IsNullOrWhiteSpace(target.ConnectionString) => ("ConnectionString", $"is required for a {target.Kind} target"),
        TargetKind.Container => Adapters.Containers.ContainerTargets.Missing(target),
        TargetKind.Host => Adapters.Ssh.SshTargets.Missing(target),
        _ => null,
    };

    public ResolvedTarget Resolve(string key) =>
        TryResolve(key, out var target) ? target : throw new InvalidOperationException($"Target '{key}' is not configured under Grace:Targets.");

    public string ResolvePath(string path) => paths.Resolve(path);
}

/// <summary>Makes configured paths absolute, relative to the content root.</summary>
public sealed class PathResolver(IHostEnvironment environment)
{
    public string Resolve(string path) => System.IO.Path.GetFullPath(System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.Combine(environment.ContentRootPath, path));
}
