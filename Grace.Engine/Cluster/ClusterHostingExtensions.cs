using Grace.Engine.Configuration;
using Grace.Engine.Gate;
using Grace.Engine.Notifications;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Grace.Engine.Cluster;

public static class ClusterHostingExtensions
{
    /// <summary>
    /// Hosts an Orleans silo in Grace's process. Alone (SQLite) it answers only itself, on a free
    /// loopback port. On PostgreSQL or SQL Server it joins every instance that shares the database
    /// (its membership table lives there), and the grains of targets and missions spread over them.
    /// Everything is decided from validated options when the host is built, so settings added late
    /// (the command line, tests) still decide.
    /// </summary>
    public static IHostApplicationBuilder AddGraceCluster(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddHostedService<StandaloneLock>();
        services.AddSingleton<IMissionScheduler, GrainMissionScheduler>();
        services.AddSingleton<ClusterEventRelay>();
        services.AddSingleton<IPipelineEventRelay>(sp => sp.GetRequiredService<ClusterEventRelay>());
        services.AddHostedService(sp => sp.GetRequiredService<ClusterEventRelay>());
        services.AddHostedService<InstanceKeeper>();

        builder.UseOrleans(silo =>
        {
            silo.Services.AddSingleton<Orleans.IMembershipTable, GraceMembershipTable>();
            silo.Services.AddOptions<ClusterOptions>().Configure<GraceInstance>((o, instance) =>
            {
                o.ClusterId = instance.ClusterId;
                o.ServiceId = "grace";
            });
            silo.Services.AddOptions<EndpointOptions>().Configure<GraceInstance>((o, instance) =>
            {
                o.AdvertisedIPAddress = instance.AdvertisedAddress;
                o.SiloPort = instance.SiloPort;
                o.GatewayPort = 0; // No external Orleans clients: the console and API live in the same process.
            });
            silo.Services.AddOptions<SiloOptions>().Configure<GraceInstance>((o, instance) => o.SiloName = instance.Name);
            silo.Services.AddOptions<ClusterMembershipOptions>().Configure<IOptions<GraceClusterOptions>>((o, cluster) =>
            {
                // A dead instance's missions must continue elsewhere within seconds, not minutes.
                o.ProbeTimeout = TimeSpan.FromSeconds(cluster.Value.ProbeTimeoutSeconds);
                o.NumMissedProbesLimit = cluster.Value.MissedProbesLimit;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(cluster.Value.TableRefreshSeconds);
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(30);
            });
            silo.Services.AddOptions<SiloMessagingOptions>().Configure<IOptions<EngineOptions>>((o, engine) =>
            {
                // A call to a target's grain may wait for an action (and its bookkeeping through a database outage).
                o.ResponseTimeout = TimeSpan.FromSeconds(engine.Value.ActionTimeoutSeconds) + TimeSpan.FromMinutes(8);
            });
            silo.AddPlacementDirector<InstancePlacement, InstancePlacementDirector>();
        });
        return builder;
    }
}
