using Grace.Engine.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Engine.Adapters.Grace;

/// <summary>Grace's own process: its log levels, its feature flags, its own errors as signals.</summary>
public sealed class GraceKind : TargetKindAdapter<GraceKind.Options>
{
    public static readonly TargetKind Id = new("Grace");

    public override TargetKind Kind => Id;

    // Each instance is its own Grace: a change of level applies to the process it runs in.
    public override bool IsHostBound => true;

    protected override TargetSettings Resolve(string key, Options options)
    {
        Uri? url = null;
        if (options.Url is { } text && !Uri.TryCreate(text, UriKind.Absolute, out url))
        {
            return new TargetSettings(null, Problems: [$"Url '{text}' is not an absolute URL."]);
        }

        return TargetSettings.Of(new GraceTarget(url));
    }

    /// <summary><c>Grace:Targets:&lt;key&gt;</c> of a Grace target.</summary>
    public sealed class Options
    {
        /// <summary>Where this Grace answers HTTP, for benchmarks of its own endpoints; optional.</summary>
        public string? Url { get; set; }
    }
}

/// <summary>The settings of a Grace target: the process Grace runs in, and the Url it answers on, if given.</summary>
public sealed record GraceTarget(Uri? Url = null) : Http.IHttpEndpoint;

public static class GraceTargetsExtensions
{
    /// <summary>The Grace kind.</summary>
    public static IServiceCollection AddGraceTargets(this IServiceCollection services) =>
        services.AddSingleton<ITargetKindAdapter, GraceKind>();
}
