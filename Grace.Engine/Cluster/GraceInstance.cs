using System.Net;
using System.Net.Sockets;
using Grace.Data;
using Grace.Engine.Configuration;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Cluster;

/// <summary>
/// Who this Grace is in its cluster, settled once at start from <c>Grace:Cluster</c> and the
/// database provider: its name, whether it shares the work with other instances, and where its
/// silo listens. Where machine-bound work runs is <see cref="TargetPlacement"/>'s answer.
/// </summary>
public sealed class GraceInstance
{
    public GraceInstance(IOptions<GraceClusterOptions> cluster, IOptions<DatabaseOptions> database)
    {
        var options = cluster.Value;
        IsClustered = options.Mode switch
        {
            ClusterMode.Cluster => true,
            ClusterMode.Standalone => false,
            _ => database.Value.Provider != DatabaseProvider.Sqlite,
        };
        // Alone, the silo answers only itself: a free loopback port, so two Graces (or two test
        // hosts) on one machine never collide.
        SiloPort = options.SiloPort is > 0 ? options.SiloPort.Value : IsClustered && options.SiloPort is null ? 11111 : FreePort();
        AdvertisedAddress = options.AdvertisedAddress is { } a ? IPAddress.Parse(a)
            : IsClustered ? FirstAddress() : IPAddress.Loopback;
        Name = options.InstanceName ?? $"{Environment.MachineName}-{SiloPort}";
        ClusterId = IsClustered ? options.ClusterId : $"grace-standalone-{Guid.NewGuid():N}";
        _defaultTargetInstance = options.DefaultTargetInstance;
    }

    private readonly string? _defaultTargetInstance;

    /// <summary>This instance's name (its silo name), unique in the cluster.</summary>
    public string Name { get; }

    /// <summary>True when other instances may share the work through the database's membership table.</summary>
    public bool IsClustered { get; }

    public int SiloPort { get; }

    public IPAddress AdvertisedAddress { get; }

    public string ClusterId { get; }

    /// <summary>The instance a target's host-bound work runs on in a cluster: its own <c>Instance</c>, else <c>Grace:Cluster:DefaultTargetInstance</c>.</summary>
    public string? InstanceOf(TargetOptions target) => string.IsNullOrWhiteSpace(target.Instance) ? _defaultTargetInstance : target.Instance;

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static IPAddress FirstAddress()
    {
        try
        {
            return Dns.GetHostAddresses(Dns.GetHostName()).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
                ?? IPAddress.Loopback;
        }
        catch (SocketException)
        {
            return IPAddress.Loopback;
        }
    }
}
