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

    protected override TargetSettings Resolve(string key, Options options) => TargetSettings.Of(new GraceTarget());

    /// <summary>A Grace target has no settings of its own.</summary>
    public sealed class Options;
}

/// <summary>The settings of a Grace target: none; it is the process Grace runs in.</summary>
public sealed record GraceTarget;

public static class GraceTargetsExtensions
{
    /// <summary>The Grace kind.</summary>
    public static IServiceCollection AddGraceTargets(this IServiceCollection services) =>
        services.AddSingleton<ITargetKindAdapter, GraceKind>();
}
