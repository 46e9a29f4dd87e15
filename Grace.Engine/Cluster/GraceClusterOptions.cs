using System.Text.RegularExpressions;
using Grace.Data;
using Grace.Data.Entities;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Cluster;

/// <summary>Whether this Grace runs alone or as one instance of a cluster (<c>Grace:Cluster:Mode</c>).</summary>
public enum ClusterMode
{
    /// <summary>Alone on SQLite; a cluster on PostgreSQL or SQL Server (instances that share a server database always form one cluster).</summary>
    Auto,
    /// <summary>One instance, whatever the database: its silo answers only itself.</summary>
    Standalone,
    /// <summary>One instance of a cluster whose membership lives in Grace's server database.</summary>
    Cluster,
}

/// <summary>
/// How this instance takes part in a Grace cluster (<c>Grace:Cluster</c>). Alone, nothing here
/// needs setting. Several instances on one PostgreSQL or SQL Server database find each other
/// through a membership table in that database; each needs a distinct <see cref="InstanceName"/>
/// and a <see cref="SiloPort"/> the others can reach at <see cref="AdvertisedAddress"/>.
/// </summary>
public sealed class GraceClusterOptions
{
    public const string Section = "Grace:Cluster";

    public ClusterMode Mode { get; set; } = ClusterMode.Auto;

    /// <summary>This instance's name, unique in the cluster; host-bound targets name it in <c>Instance</c>. Default: the machine name and the silo port.</summary>
    public string? InstanceName { get; set; }

    /// <summary>
    /// The instance that acts on host-bound targets (processes, files, folders, Grace itself) which
    /// do not name their own <c>Instance</c>; unset, each such target must name one in a cluster.
    /// </summary>
    public string? DefaultTargetInstance { get; set; }

    /// <summary>Instances with the same cluster id on one database form one cluster.</summary>
    public string ClusterId { get; set; } = "grace";

    /// <summary>Port the instances talk to each other on. 0 picks a free port (the default when alone).</summary>
    public int? SiloPort { get; set; }

    /// <summary>Address the other instances reach this one at. Default: 127.0.0.1 when alone, the host's first address otherwise.</summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>How long a liveness probe between instances may take before it counts as missed.</summary>
    public double ProbeTimeoutSeconds { get; set; } = 1;

    /// <summary>Missed probes before an instance suspects another; a dead instance is declared once enough instances suspect it.</summary>
    public int MissedProbesLimit { get; set; } = 3;

    /// <summary>How often each instance re-reads the membership table even when nothing told it to.</summary>
    public double TableRefreshSeconds { get; set; } = 5;
}

/// <summary>Checks <c>Grace:Cluster</c> against the database provider, naming the key.</summary>
public sealed partial class GraceClusterOptionsValidator(IOptions<DatabaseOptions> database) : IValidateOptions<GraceClusterOptions>
{
    public ValidateOptionsResult Validate(string? name, GraceClusterOptions options)
    {
        var errors = new List<string>();
        var at = GraceClusterOptions.Section;
        if (options.Mode == ClusterMode.Cluster && database.Value.Provider == DatabaseProvider.Sqlite)
        {
            errors.Add($"{at}:Mode is Cluster, but {DatabaseOptions.Section}:Provider is Sqlite: a cluster keeps its membership in a server database shared by every instance (Postgres or SqlServer). Alone, leave {at}:Mode at Auto.");
        }

        if (options.InstanceName is { } instance && (instance.Length > ColumnLimits.InstanceName || !NamePattern().IsMatch(instance)))
        {
            errors.Add($"{at}:InstanceName '{instance}' must be 1 to {ColumnLimits.InstanceName} letters, digits, '.', '_' or '-'.");
        }

        if (options.DefaultTargetInstance is { } defaultInstance && (defaultInstance.Length > ColumnLimits.InstanceName || !NamePattern().IsMatch(defaultInstance)))
        {
            errors.Add($"{at}:DefaultTargetInstance '{defaultInstance}' must be 1 to {ColumnLimits.InstanceName} letters, digits, '.', '_' or '-'.");
        }

        if (string.IsNullOrWhiteSpace(options.ClusterId) || options.ClusterId.Length > ColumnLimits.ClusterId || !NamePattern().IsMatch(options.ClusterId))
        {
            errors.Add($"{at}:ClusterId must be 1 to {ColumnLimits.ClusterId} letters, digits, '.', '_' or '-'.");
        }

        if (options.SiloPort is < 0 or > 65535)
        {
            errors.Add($"{at}:SiloPort must be between 0 (a free port) and 65535 (it is {options.SiloPort}).");
        }

        if (options.AdvertisedAddress is { } address && !System.Net.IPAddress.TryParse(address, out _))
        {
            errors.Add($"{at}:AdvertisedAddress '{address}' is not an IP address.");
        }

        if (options.ProbeTimeoutSeconds is < 0.1 or > 60)
        {
            errors.Add($"{at}:ProbeTimeoutSeconds must be between 0.1 and 60 (it is {options.ProbeTimeoutSeconds:G}).");
        }

        if (options.MissedProbesLimit is < 1 or > 10)
        {
            errors.Add($"{at}:MissedProbesLimit must be between 1 and 10 (it is {options.MissedProbesLimit}).");
        }

        if (options.TableRefreshSeconds is < 1 or > 600)
        {
            errors.Add($"{at}:TableRefreshSeconds must be between 1 and 600 (it is {options.TableRefreshSeconds:G}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex NamePattern();
}
