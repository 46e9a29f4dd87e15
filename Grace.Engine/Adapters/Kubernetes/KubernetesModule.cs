using Grace.Engine.Execute;
using Grace.Engine.Verify;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Engine.Adapters.Kubernetes;

public static class KubernetesTargetsExtensions
{
    /// <summary>
    /// The Kubernetes kind: rollout restart, scale, rollout undo, deleting crash-looping pods,
    /// cordon and uncordon; probes of replicas, pods, restarts, rollout progress and node
    /// scheduling; and the watcher turning pod warning events into signals. No benchmark kind: a
    /// workload's latency is its service's, measured by an Http target in front of it.
    /// </summary>
    public static IServiceCollection AddKubernetesTargets(this IServiceCollection services)
    {
        services.AddSingleton<ITargetKindAdapter, KubernetesKind>();
        services.AddSingleton<KubernetesApi>();
        services.AddSingleton<IRemediationExecutor, RolloutRestartAction>();
        services.AddSingleton<IRemediationExecutor, ScaleAction>();
        services.AddSingleton<IRemediationExecutor, RolloutUndoAction>();
        services.AddSingleton<IRemediationExecutor, DeleteCrashLoopingPodsAction>();
        services.AddSingleton<IRemediationExecutor, CordonNodeAction>();
        services.AddSingleton<IRemediationExecutor, UncordonNodeAction>();
        services.AddSingleton<IProbe, ReadyReplicasProbe>();
        services.AddSingleton<IProbe, AvailableReplicasProbe>();
        services.AddSingleton<IProbe, PodsNotRunningProbe>();
        services.AddSingleton<IProbe, PodRestartsProbe>();
        services.AddSingleton<IProbe, RolloutProgressProbe>();
        services.AddSingleton<IProbe, NodeSchedulableProbe>();
        services.AddOptions<KubernetesOptions>().BindConfiguration(KubernetesOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddHostedService<KubernetesEventWatcher>();
        return services;
    }
}
