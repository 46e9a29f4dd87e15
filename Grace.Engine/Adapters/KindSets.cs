using Grace.Engine.Configuration;

namespace Grace.Engine.Adapters;

/// <summary>Which kinds of target an action or probe works on; an empty set means every kind (a breaker, an incident's signal rate).</summary>
public static class KindSets
{
    public static IReadOnlySet<TargetKind> AnyKind { get; } = new HashSet<TargetKind>();

    public static IReadOnlySet<TargetKind> Of(params TargetKind[] kinds) => new HashSet<TargetKind>(kinds);

    public static bool Accepts(this IReadOnlySet<TargetKind> kinds, TargetKind kind) => kinds.Count == 0 || kinds.Contains(kind);

    public static string Describe(this IReadOnlySet<TargetKind> kinds) => kinds.Count == 0 ? "any" : string.Join(" or ", kinds);
}
