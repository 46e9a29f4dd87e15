using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Cluster;

/// <summary>Where a target's machine-bound work (its process, its files, its health check, its fault demo) runs in the cluster.</summary>
public sealed class TargetPlacement(GraceInstance instance, TargetRegistry targets, IOptionsMonitor<CatalogOptions> catalog)
{
    /// <summary>True when only one machine can act on the target.</summary>
    public bool IsHostBound(TargetOptions target) => targets.IsHostBound(target);

    /// <summary>Whether such work runs here: always when alone; in a cluster, on the instance the target lives on.</summary>
    public bool Owns(TargetOptions target) =>
        !instance.IsClustered || !IsHostBound(target) || string.Equals(instance.InstanceOf(target), instance.Name, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether a configured target's machine-bound work runs here.</summary>
    public bool Owns(string key) => !catalog.CurrentValue.Targets.TryGetValue(key, out var target) || Owns(target);

    /// <summary>The instance a host-bound target lives on; null when any instance will do.</summary>
    public string? InstanceOf(TargetOptions target) => instance.IsClustered && IsHostBound(target) ? instance.InstanceOf(target) : null;
}
