using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Execute;

/// <summary>
/// <c>cache.clear</c>: empties a cache folder that lies under one of <c>Grace:Engine:CacheRoots</c>.
/// Nothing is deleted at once: the entries move to a quarantine folder, come back on rollback, and
/// are deleted only when the contract held. A path outside the roots is refused and left untouched.
/// </summary>
public sealed class CacheDirectoryExecutor(IOptionsMonitor<EngineOptions> options, PathResolver paths, CacheRoots roots) : IRemediationExecutor
{
    public string Action => "cache.clear";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Directory };
    public bool CanRollback => true;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters) => [];

    public string Describe(ActionRequest request) =>
        $"Moves every entry of {request.Target.Path} to quarantine; they are deleted once the contract holds, restored otherwise.";

    public Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var path = RequireAllowed(request.Target);
        var entries = new DirectoryInfo(path).EnumerateFileSystemInfos().Select(e => e.Name).Order(StringComparer.Ordinal).ToList();
        var bytes = DirectoryBytes(path);
        var state = JsonSerializer.Serialize(new CacheState(path, QuarantineFor(request.MissionId), entries, bytes));
        return Task.FromResult(new SnapshotState(state, $"{path}: {entries.Count} entries, {bytes:N0} bytes.", path));
    }

    public Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var path = RequireAllowed(request.Target);
        var state = ReadState(snapshot);
        Directory.CreateDirectory(state.Quarantine);
        var moved = 0;
        foreach (var entry in new DirectoryInfo(path).EnumerateFileSystemInfos().ToList())
        {
            cancellationToken.ThrowIfCancellationRequested();
            MoveEntry(entry, Path.Combine(state.Quarantine, entry.Name));
            moved++;
        }

        return Task.FromResult(new ActionResult($"Moved {moved} entries ({state.Bytes:N0} bytes) from {path} to quarantine.",
            JsonSerializer.Serialize(new { moved, quarantine = state.Quarantine })));
    }

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var state = ReadState(snapshot);
        var restored = 0;
        if (Directory.Exists(state.Quarantine))
        {
            Directory.CreateDirectory(state.Path);
            foreach (var entry in new DirectoryInfo(state.Quarantine).EnumerateFileSystemInfos().ToList())
            {
                var destination = Path.Combine(state.Path, entry.Name);
                // Something new written since the action wins over the old copy.
                if (!File.Exists(destination) && !Directory.Exists(destination))
                {
                    MoveEntry(entry, destination);
                    restored++;
                }
            }

            Directory.Delete(state.Quarantine, recursive: true);
        }

        return Task.FromResult($"Restored {restored} entries to {state.Path}.");
    }

    public Task CommitAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var state = ReadState(snapshot);
        if (Directory.Exists(state.Quarantine))
        {
            Directory.Delete(state.Quarantine, recursive: true);
        }

        return Task.CompletedTask;
    }

    /// <summary>The folder of a directory target, if it is under a configured cache root; refused otherwise.</summary>
    internal string RequireAllowed(ResolvedTarget target)
    {
        var path = target.Path ?? throw new ActionRefusedException($"Target '{target.Key}' has no Path.");
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (roots.OutsideRoots(full) is { } refusal)
        {
            throw new ActionRefusedException(refusal);
        }

        var info = new DirectoryInfo(full);
        if (!info.Exists)
        {
            throw new ActionRefusedException($"Cache folder {full} does not exist.");
        }

        // A link could point anywhere; clearing through it would escape the roots. Every folder
        // from the target up to its root is checked, not only the last one.
        var root = roots.RootOf(full)!;
        for (var dir = info; dir is not null && dir.FullName.Length > root.Length; dir = dir.Parent)
        {
            if (dir.LinkTarget is not null)
            {
                throw new ActionRefusedException($"Refused: {dir.FullName} is a symbolic link. Nothing was deleted.");
            }
        }

        return full;
    }

    /// <summary>A snapshot is data from the database: its paths are checked again before anything moves.</summary>
    private CacheState ReadState(SnapshotState snapshot)
    {
        var state = JsonSerializer.Deserialize<CacheState>(snapshot.State)!;
        var quarantineRoot = Path.TrimEndingDirectorySeparator(paths.Resolve(options.CurrentValue.QuarantineDirectory));
        var quarantine = Path.GetFullPath(state.Quarantine);
        if (!quarantine.StartsWith(quarantineRoot + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ActionRefusedException($"Refused: the snapshot's quarantine {quarantine} is not under {quarantineRoot}.");
        }

        if (roots.OutsideRoots(Path.GetFullPath(state.Path)) is { } refusal)
        {
            throw new ActionRefusedException(refusal);
        }

        return state;
    }

    internal static long DirectoryBytes(string path)
    {
        var info = new DirectoryInfo(path);
        if (!info.Exists)
        {
            return 0;
        }

        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
        return info.EnumerateFiles("*", options).Sum(f => f.Length);
    }

    private string QuarantineFor(Guid missionId) => Path.Combine(paths.Resolve(options.CurrentValue.QuarantineDirectory), missionId.ToString("N"));

    private static void MoveEntry(FileSystemInfo entry, string destination)
    {
        // Same file system: a rename. Across file systems Directory.Move fails, so copy then delete.
        try
        {
            if (entry is DirectoryInfo dir)
            {
                dir.MoveTo(destination);
            }
            else
            {
                File.Move(entry.FullName, destination);
            }
        }
        catch (IOException) when (entry is DirectoryInfo dir)
        {
            CopyDirectory(dir, destination);
            dir.Delete(recursive: true);
        }
    }

    private static void CopyDirectory(DirectoryInfo source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in source.EnumerateFiles())
        {
            file.CopyTo(Path.Combine(destination, file.Name));
        }

        foreach (var sub in source.EnumerateDirectories())
        {
            CopyDirectory(sub, Path.Combine(destination, sub.Name));
        }
    }

    private sealed record CacheState(string Path, string Quarantine, List<string> Entries, long Bytes);
}
