using Grace.Engine.Faults;
using Grace.Engine.Missions;
using Grace.Engine.Targets;

namespace Grace.Engine.Adapters.Directories;

/// <summary>Fills a cache folder (under the cache roots only) with files.</summary>
public sealed class CacheFillFault(CacheRoots cacheRoots, TimeProvider time) : IFaultDemo
{
    public static readonly FaultKind Kind = new("CacheFill");

    public FaultInfo Info { get; } = new(Kind, "Fill a cache folder",
        "Writes files of 1 MiB into a folder under the cache roots until it holds the size you choose.", DirectoryKind.Id, HasSize: true);

    public string? Unavailable(ResolvedTarget target) =>
        target.KindSettings is DirectoryTarget folder && cacheRoots.RootOf(folder.Path) is not null
            ? null
            : $"'{target.Key}' is not under a cache root; the demo only fills cache folders.";

    /// <summary>
    /// Past the target's health check on <c>directory.bytes</c> (healthy below a threshold): what the
    /// folder lacks to reach it, plus one MiB. A fixed default could stay under a larger threshold forever.
    /// </summary>
    public int? MegabytesToBreak(ResolvedTarget target)
    {
        if (target.Options.HealthCheck is not { Probe: DirectoryBytesProbe.ProbeKey, Comparator: Data.Entities.Comparator.LessThan or Data.Entities.Comparator.LessThanOrEqual } check
            || target.KindSettings is not DirectoryTarget folder)
        {
            return null;
        }

        const double MiB = 1024 * 1024;
        var path = Path.GetFullPath(folder.Path);
        var present = Directory.Exists(path) ? CacheDirectoryExecutor.DirectoryBytes(path) : 0;
        return (int)Math.Max(1, Math.Floor(Math.Max(0, check.Threshold - present) / MiB) + 1);
    }

    public async Task<string> InjectAsync(ResolvedTarget target, int megabytes, CancellationToken cancellationToken)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target.Settings<DirectoryTarget>().Path));
        if (cacheRoots.RootOf(full) is null)
        {
            throw new MissionOperationException($"{full} is not under a cache root; the demo only fills cache folders.");
        }

        Directory.CreateDirectory(full);
        // The files are written beside the folder and then renamed into it, so the folder goes from
        // empty to full at once: a snapshot taken halfway would see a cache that is still changing,
        // and an approval given against it would be void by the time the action runs.
        var staging = Directory.CreateDirectory(Path.Combine(Path.GetDirectoryName(full)!, $".grace-fill-{Guid.NewGuid():N}"));
        try
        {
            var block = new byte[1024 * 1024];
            var stamp = time.GetUtcNow().ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
            for (var i = 0; i < megabytes; i++)
            {
                await File.WriteAllBytesAsync(Path.Combine(staging.FullName, $"fault-{stamp}-{i}.bin"), block, cancellationToken);
            }

            foreach (var file in staging.EnumerateFiles())
            {
                file.MoveTo(Path.Combine(full, file.Name), overwrite: true);
            }
        }
        finally
        {
            staging.Delete(recursive: true);
        }

        return $"Wrote {megabytes} MiB into {full}.";
    }
}
