using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Engine.Adapters.Directories;

/// <summary>The settings of a Directory target: its folder, made absolute.</summary>
public sealed record DirectoryTarget(string Path);

/// <summary>A folder on this machine (<c>Path</c>, relative to the content root). I/O hiccups are transient; a missing folder is not.</summary>
public sealed class DirectoryKind(PathResolver paths) : TargetKindAdapter<DirectoryKind.Options>
{
    public static readonly TargetKind Id = new("Directory");

    public override TargetKind Kind => Id;

    public override bool IsHostBound => true;

    protected override TargetSettings Resolve(string key, Options options) => string.IsNullOrWhiteSpace(options.Path)
        ? TargetSettings.Without("Path", "is required for a Directory target")
        : TargetSettings.Of(new DirectoryTarget(System.IO.Path.TrimEndingDirectorySeparator(paths.Resolve(options.Path))));

    public override bool IsTransient(Exception exception) => exception is IOException and not FileNotFoundException and not DirectoryNotFoundException;

    /// <summary><c>Grace:Targets:&lt;key&gt;</c> of a Directory target.</summary>
    public sealed class Options
    {
        public string? Path { get; set; }
    }
}

/// <summary><c>directory.bytes</c>: total size of the files under a folder, links not followed.</summary>
public sealed class DirectoryBytesProbe : Probe<NoParameters>
{
    /// <summary>The probe's key, as configurations name it.</summary>
    public const string ProbeKey = "directory.bytes";

    public override string Key => ProbeKey;
    public override string Unit => "bytes";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(DirectoryKind.Id);

    protected override Task<double> ReadAsync(ProbeRequest request, NoParameters p, CancellationToken cancellationToken) =>
        Task.FromResult((double)CacheDirectoryExecutor.DirectoryBytes(request.Target.Settings<DirectoryTarget>().Path));
}

public static class DirectoryTargetsExtensions
{
    /// <summary>The Directory kind: clearing a cache folder under the cache roots (quarantined until verified), its size.</summary>
    public static IServiceCollection AddDirectoryTargets(this IServiceCollection services)
    {
        services.AddSingleton<ITargetKindAdapter, DirectoryKind>();
        services.AddSingleton<CacheRoots>();
        services.AddSingleton<IRemediationExecutor, CacheDirectoryExecutor>();
        services.AddSingleton<IProbe, DirectoryBytesProbe>();
        services.AddSingleton<Faults.IFaultDemo, CacheFillFault>();
        return services;
    }
}
