using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
using Grace.Engine.Targets;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Adapters.Directories;

/// <summary>
/// <c>cache.clear</c>: empties a cache folder that lies under one of <c>Grace:Engine:CacheRoots</c>.
/// Nothing is deleted at once: the entries move to a quarantine folder, come back on rollback, and
/// are deleted only when the contract held. A path outside the roots is refused and left untouched.
/// An approval holds for the entries the approvers saw (names, sizes, modification times): a
/// file added, removed or rewritten since voids it, and only the entries in the snapshot move.
/// </summary>
public sealed class CacheDirectoryExecutor(IOptionsMonitor<EngineOptions> options, PathResolver paths, CacheRoots roots) : RemediationAction<NoParameters>
{
    public override string Action => "cache.clear";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(DirectoryKind.Id);
    public override bool CanRollback => true;

    protected override IEnumerable<string> ValidateUse(ResolvedTarget target, NoParameters parameters) =>
        target.KindSettings is DirectoryTarget folder && roots.OutsideRoots(folder.Path) is { } refusal ? [$"Target: {refusal}"] : [];

    protected override string Describe(ActionRequest request, NoParameters p) =>
        $"Moves every entry of {request.Target.Settings<DirectoryTarget>().Path} that its snapshot saw to quarantine; they are deleted once the contract holds, restored otherwise.";

    protected override Task<SnapshotState> SnapshotAsync(ActionRequest request, NoParameters p, CancellationToken cancellationToken)
    {
        var path = RequireAllowed(request.Target);
        var entries = new DirectoryInfo(path).EnumerateFileSystemInfos().Select(e => e.Name).Order(StringComparer.Ordinal).ToList();
        var listing = Listing(path);
        var contents = CacheContents.Of(listing);
        var state = JsonSerializer.Serialize(new CacheState(path, QuarantineFor(request.MissionId), entries, contents.Bytes, listing.Count <= MaxListed ? listing : null));
        return Task.FromResult(Consent.Snapshot(state, $"{path}: {HumanFormat.Count(entries.Count, "entry", "entries")}, {HumanFormat.Bytes(contents.Bytes)}.", contents, contents.Describe()));
    }

    protected override Task<ActionResult> ExecuteAsync(ActionRequest request, NoParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var path = RequireAllowed(request.Target);
        var state = ReadState(snapshot);
        Directory.CreateDirectory(state.Quarantine);
        // Only what the snapshot saw moves: an entry written since is nobody's decision yet.
        var seen = state.Entries.ToHashSet(StringComparer.Ordinal);
        var moved = 0;
        var left = 0;
        foreach (var entry in new DirectoryInfo(path).EnumerateFileSystemInfos().ToList())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!seen.Contains(entry.Name))
            {
                left++;
                continue;
            }

            MoveEntry(entry, Path.Combine(state.Quarantine, entry.Name));
            moved++;
        }

        return Task.FromResult(new ActionResult($"Moved {HumanFormat.Count(moved, "entry", "entries")} ({HumanFormat.Bytes(state.Bytes)}) from {path} to quarantine."
                + (left > 0 ? $" Left {HumanFormat.Count(left, "entry", "entries")} written after the snapshot." : ""),
            JsonSerializer.Serialize(new { moved, left, quarantine = state.Quarantine })));
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current)
    {
        var (before, after) = (Consent.Read<CacheContents>(approved), Consent.Read<CacheContents>(current));
        var totals = before is null || after is null ? Consent.Compare(approved, current) : $"{before.Describe()} → {after.Describe()}";
        var (was, now) = (ListingOf(approved), ListingOf(current));
        if (was is null || now is null)
        {
            return $"the cache's entries changed ({totals})";
        }

        var old = was.ToDictionary(e => e.Path, StringComparer.Ordinal);
        var fresh = now.ToDictionary(e => e.Path, StringComparer.Ordinal);
        var parts = new List<string>();
        var added = fresh.Keys.Where(k => !old.ContainsKey(k)).ToList();
        var removed = old.Keys.Where(k => !fresh.ContainsKey(k)).ToList();
        var rewritten = fresh.Values.Where(e => old.TryGetValue(e.Path, out var o) && o != e).Select(e => e.Path).ToList();
        if (added.Count > 0)
        {
            parts.Add($"{added.Count} added ({Consent.Names(added)})");
        }

        if (removed.Count > 0)
        {
            parts.Add($"{removed.Count} removed ({Consent.Names(removed)})");
        }

        if (rewritten.Count > 0)
        {
            parts.Add($"{rewritten.Count} rewritten ({Consent.Names(rewritten)})");
        }

        return $"cache entries {(parts.Count == 0 ? "changed" : string.Join(", ", parts))}: {totals}";
    }

    protected override Task<string> RollbackAsync(ActionRequest request, NoParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
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

    protected override Task CommitAsync(ActionRequest request, NoParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
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
        var path = target.Settings<DirectoryTarget>().Path;
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

    /// <summary>Entries listed per snapshot, so the timeline can name what changed; a bigger cache is compared by its digest alone.</summary>
    internal const int MaxListed = 1000;

    private static readonly EnumerationOptions Everything = new() { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };

    /// <summary>Every file and folder under the cache, relative, in ordinal order: folders end with '/', files carry size and modification time.</summary>
    private static List<CacheEntry> Listing(string path) =>
        new DirectoryInfo(path).EnumerateFileSystemInfos("*", Everything)
            .Select(e => e is FileInfo f
                ? new CacheEntry(Relative(path, f.FullName), f.Length, f.LastWriteTimeUtc.Ticks)
                : new CacheEntry(Relative(path, e.FullName) + "/", 0, 0))
            .OrderBy(e => e.Path, StringComparer.Ordinal)
            .ToList();

    private static string Relative(string root, string full) => Path.GetRelativePath(root, full).Replace(Path.DirectorySeparatorChar, '/');

    private static List<CacheEntry>? ListingOf(SnapshotState snapshot)
    {
        try
        {
            return JsonSerializer.Deserialize<CacheState>(snapshot.State)?.Listing;
        }
        catch (JsonException)
        {
            return null;
        }
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

    private sealed record CacheState(string Path, string Quarantine, List<string> Entries, long Bytes, List<CacheEntry>? Listing = null);

    /// <summary>One file (with size and modification time) or folder of a cache, relative to it.</summary>
    internal sealed record CacheEntry(string Path, long Size, long ModifiedTicks);

    /// <summary>
    /// What clearing a cache depends on: its entries as the approvers saw them. Two snapshots are the
    /// same cache when they count the same files and folders of the same total size, and a digest of
    /// every entry's path, size and modification time agrees.
    /// </summary>
    internal sealed record CacheContents(int Files, int Folders, long Bytes, string Digest)
    {
        public static CacheContents Of(IReadOnlyList<CacheEntry> listing)
        {
            var text = new StringBuilder();
            foreach (var entry in listing)
            {
                text.Append(CultureInfo.InvariantCulture, $"{entry.Path}\t{entry.Size}\t{entry.ModifiedTicks}\n");
            }

            var files = listing.Where(e => !e.Path.EndsWith('/')).ToList();
            return new CacheContents(files.Count, listing.Count - files.Count, files.Sum(f => f.Size),
                Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()))));
        }

        public string Describe() =>
            $"{HumanFormat.Count(Files, "file")}{(Folders == 0 ? "" : " in " + HumanFormat.Count(Folders, "folder"))}, {HumanFormat.Bytes(Bytes)}";
    }
}
