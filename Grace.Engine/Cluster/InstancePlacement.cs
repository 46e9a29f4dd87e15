using Grace.Engine.Configuration;
using Microsoft.Extensions.Options;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Grace.Engine.Cluster;

/// <summary>
/// Places a grain on the instance that must run it: a host-bound target's grain on the instance
/// named in its <c>Instance</c>, an instance's own grain on that instance; any other grain on the
/// instance that asked for it (no network hop for the common case).
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class InstancePlacement : PlacementStrategy
{
    public static readonly InstancePlacement Singleton = new();
}

/// <summary>Marks a grain class placed by <see cref="InstancePlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class InstancePlacementAttribute() : PlacementAttribute(InstancePlacement.Singleton);

/// <summary>A grain must run on an instance that is not in the cluster now.</summary>
[GenerateSerializer]
public sealed class InstanceUnavailableException(string message) : Exception(message);

/// <summary>Grain types whose key names the instance they must run on.</summary>
public static class GraceGrainTypes
{
    public const string Target = "grace-target";
    public const string Instance = "grace-instance";
    public const string Mission = "grace-mission";
    public const string Sweeper = "grace-sweeper";
    public const string Storm = "grace-storm";
    public const string Figures = "grace-figures";
    public const string Miner = "grace-miner";
}

internal sealed class InstancePlacementDirector(IClusterMembershipService membership, TargetPlacement placement, IOptionsMonitor<CatalogOptions> catalog) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var compatible = context.GetCompatibleSilos(target);
        var wanted = InstanceFor(target.GrainIdentity);
        if (wanted is null)
        {
            // Anywhere: here when this instance can host it, so the caller's own instance does the work.
            return Task.FromResult(compatible.Contains(context.LocalSilo) ? context.LocalSilo : compatible[Random.Shared.Next(compatible.Length)]);
        }

        var members = membership.CurrentSnapshot.Members;
        foreach (var silo in compatible)
        {
            if (members.TryGetValue(silo, out var member) && member.Status == SiloStatus.Active
                && string.Equals(member.Name, wanted, StringComparison.OrdinalIgnoreCase))
            {
                return Task.FromResult(silo);
            }
        }

        throw new InstanceUnavailableException($"Instance '{wanted}' is not in the cluster now, and {target.GrainIdentity.Key} runs only there.");
    }

    /// <summary>The instance a grain must run on, or null when any will do.</summary>
    private string? InstanceFor(GrainId grain)
    {
        var type = grain.Type.ToString();
        var key = grain.Key.ToString();
        if (type == GraceGrainTypes.Instance)
        {
            return key;
        }

        if (type == GraceGrainTypes.Target && catalog.CurrentValue.Targets.TryGetValue(key!, out var options))
        {
            return placement.InstanceOf(options);
        }

        return null;
    }
}
