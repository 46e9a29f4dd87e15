using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Faults;
using Grace.Engine.Verify;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Engine.Adapters.Containers;

public static class ContainerServiceCollectionExtensions
{
    /// <summary>
    /// The Container target kind: containers on a Docker Engine API (Docker or Podman). Its actions
    /// (<c>container.restart</c>, <c>.start</c>, <c>.stop</c>), probes (<c>container.running</c>,
    /// <c>.health</c>, <c>.restart-count</c>, <c>.memory-mb</c>, <c>.uptime-seconds</c>), the
    /// engine-event watcher that turns deaths, OOM kills and failing health checks into signals,
    /// the checks of its settings, and its fault-demo hooks.
    /// </summary>
    public static IServiceCollection AddContainerTargets(this IServiceCollection services)
    {
        services.AddSingleton<ITargetKindAdapter, ContainerKind>();
        services.AddSingleton<ContainerEngines>();
        services.AddSingleton<IRemediationExecutor, ContainerRestartAction>();
        services.AddSingleton<IRemediationExecutor, ContainerStartAction>();
        services.AddSingleton<IRemediationExecutor, ContainerStopAction>();
        services.AddSingleton<IProbe, ContainerRunningProbe>();
        services.AddSingleton<IProbe, ContainerHealthProbe>();
        services.AddSingleton<IProbe, ContainerRestartCountProbe>();
        services.AddSingleton<IProbe, ContainerMemoryProbe>();
        services.AddSingleton<IProbe, ContainerUptimeProbe>();
        services.AddSingleton<IFaultDemo, ContainerKillFault>();
        services.AddSingleton<IFaultDemo, ContainerUnhealthyFault>();
        services.AddSingleton<ContainerEventWatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<ContainerEventWatcher>());
        return services;
    }
}
