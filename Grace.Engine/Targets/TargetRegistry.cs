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

    public ResolvedTarget Resolve(string key) =>
        TryResolve(key, out var target) ? target : throw new InvalidOperationException($"Target '{key}' is not configured under Grace:Targets.");

    public string ResolvePath(string path) => paths.Resolve(path);
}

/// <summary>Makes configured paths absolute, relative to the content root.</summary>
public sealed class PathResolver(IHostEnvironment environment)
{
    public string Resolve(string path) => System.IO.Path.GetFullPath(System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.Combine(environment.ContentRootPath, path));
}
