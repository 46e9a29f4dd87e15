using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Adapters.Directories;

/// <summary>The folders (<c>Grace:Engine:CacheRoots</c>) under which Grace may clear or fill a cache, and nowhere else.</summary>
public sealed class CacheRoots(IOptionsMonitor<EngineOptions> options, PathResolver paths)
{
    public IReadOnlyList<string> All => options.CurrentValue.CacheRoots.Select(r => Path.TrimEndingDirectorySeparator(paths.Resolve(r))).ToList();

    /// <summary>The innermost root that holds a folder (the folder itself counts), or null when none does.</summary>
    public string? RootOf(string fullPath)
    {
        var full = Path.TrimEndingDirectorySeparator(fullPath);
        return All.Where(root => full == root || full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal)).MaxBy(root => root.Length);
    }

    /// <summary>Why a folder may not be cleared because it is outside every root; null when it is inside one.</summary>
    public string? OutsideRoots(string fullPath)
    {
        if (RootOf(fullPath) is not null)
        {
            return null;
        }

        var roots = All;
        return $"Refused: {Path.TrimEndingDirectorySeparator(fullPath)} is not under a configured cache root (Grace:Engine:CacheRoots: {(roots.Count == 0 ? "none" : string.Join(", ", roots))}). Nothing was deleted.";
    }
}
