using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using k8s;
using k8s.Models;

namespace Grace.Engine.Adapters.Kubernetes;

/// <summary>What every Kubernetes probe shares: its kind of target and the API.</summary>
public abstract class KubernetesProbe<TParameters>(KubernetesApi api) : Probe<TParameters> where TParameters : class, new()
{
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(KubernetesKind.Id);

    protected KubernetesApi Api => api;

    /// <summary>True for probes that read a workload's status (a selector-only target has none).</summary>
    protected virtual bool NeedsWorkload => false;

    public override IEnumerable<string> ValidateTarget(string targetKey, ResolvedTarget target) =>
        NeedsWorkload && target.KindSettings is KubernetesTarget { Workload: null }
            ? [$"probe '{Key}' reads a workload's status, and Grace:Targets:{targetKey} names only a Selector; set its Workload."]
            : [];
}

/// <summary><c>kubernetes.ready-replicas</c>: the workload's ready replicas (for a selector-only target, its ready pods). The health check of a workload.</summary>
public sealed class ReadyReplicasProbe(KubernetesApi api) : KubernetesProbe<NoParameters>(api)
{
    public override string Key => "kubernetes.ready-replicas";
    public override string Unit => "replicas";

    protected override async Task<double> ReadAsync(ProbeRequest request, NoParameters p, CancellationToken cancellationToken) =>
        request.Target.Settings<KubernetesTarget>().Workload is null
            ? (await Api.PodsAsync(request.Target, cancellationToken)).Count(PodStates.IsReady)
            : (await Api.WorkloadAsync(request.Target, cancellationToken)).Ready;
}

/// <summary><c>kubernetes.available-replicas</c>: the workload's available replicas (ready for at least its minReadySeconds).</summary>
public sealed class AvailableReplicasProbe(KubernetesApi api) : KubernetesProbe<NoParameters>(api)
{
    public override string Key => "kubernetes.available-replicas";
    public override string Unit => "replicas";
    protected override bool NeedsWorkload => true;

    protected override async Task<double> ReadAsync(ProbeRequest request, NoParameters p, CancellationToken cancellationToken) =>
        (await Api.WorkloadAsync(request.Target, cancellationToken)).Available;
}

/// <summary>
/// <c>kubernetes.pods-not-running</c>: the target's pods that are not running as <c>kubectl get pods</c>
/// would show them: pending, failed, or with a container waiting (CrashLoopBackOff, ImagePullBackOff);
/// a crash-looping pod's phase stays Running, so its containers are what tell. Pods being deleted
/// are left out: they are on their way out and their replacements count.
/// </summary>
public sealed class PodsNotRunningProbe(KubernetesApi api) : KubernetesProbe<NoParameters>(api)
{
    public override string Key => "kubernetes.pods-not-running";
    public override string Unit => "pods";

    protected override async Task<double> ReadAsync(ProbeRequest request, NoParameters p, CancellationToken cancellationToken) =>
        (await Api.PodsAsync(request.Target, cancellationToken)).Count(x => !PodStates.IsRunning(x));
}

/// <summary><c>kubernetes.rollout-progress</c>: how far the workload's rollout is, 0 to 100 (100: every wanted replica updated and available, no old one left).</summary>
public sealed class RolloutProgressProbe(KubernetesApi api) : KubernetesProbe<NoParameters>(api)
{
    public override string Key => "kubernetes.rollout-progress";
    public override string Unit => "%";
    protected override bool NeedsWorkload => true;

    protected override async Task<double> ReadAsync(ProbeRequest request, NoParameters p, CancellationToken cancellationToken) =>
        (await Api.WorkloadAsync(request.Target, cancellationToken)).Progress();
}

/// <summary>The parameters of <c>kubernetes.node-schedulable</c>.</summary>
public sealed class NodeParameters : IValidatableObject
{
    [Required(ErrorMessage = "is required: the node to read.")]
    public string Node { get; init; } = "";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Node.Length > 0 && !KubernetesNames.IsName(Node))
        {
            yield return new ValidationResult($"'{Node}' is not a node name (a lowercase DNS name).", [nameof(Node)]);
        }
    }
}

/// <summary><c>kubernetes.node-schedulable</c>: 1 while the node takes new pods, 0 once it is cordoned: what a cordon or uncordon promises.</summary>
public sealed class NodeSchedulableProbe(KubernetesApi api) : KubernetesProbe<NodeParameters>(api)
{
    public override string Key => "kubernetes.node-schedulable";
    public override string Unit => "schedulable";

    protected override async Task<double> ReadAsync(ProbeRequest request, NodeParameters p, CancellationToken cancellationToken)
    {
        var node = await Api.CallAsync(request.Target, $"GET node {p.Node}", (k, ct) => k.CoreV1.ReadNodeAsync(p.Node, cancellationToken: ct), cancellationToken);
        return node.Spec?.Unschedulable == true ? 0 : 1;
    }
}

/// <summary>The parameters of <c>kubernetes.pod-restarts</c>.</summary>
public sealed class RestartWindowParameters
{
    /// <summary>The window the restarts are counted over.</summary>
    [Range(10, 86_400, ErrorMessage = "must be a number of seconds between 10 and 86400.")]
    public int WindowSeconds { get; init; } = 600;
}

/// <summary>
/// <c>kubernetes.pod-restarts</c>: container restarts of the target's pods within the last
/// <c>WindowSeconds</c>. Kubernetes keeps only a running total per container, so each reading is
/// remembered and the count is the growth since the newest reading at least a window old (else
/// the oldest kept: a lower bound); a pod created within the window counts all its restarts, and a
/// container with no earlier reading counts its last restart when that fell within the window.
/// </summary>
public sealed class PodRestartsProbe(KubernetesApi api, TimeProvider time) : KubernetesProbe<RestartWindowParameters>(api)
{
    private const int KeptPerTarget = 512;
    private readonly ConcurrentDictionary<string, Queue<Reading>> _history = new(StringComparer.OrdinalIgnoreCase);

    public override string Key => "kubernetes.pod-restarts";
    public override string Unit => "restarts";

    protected override async Task<double> ReadAsync(ProbeRequest request, RestartWindowParameters p, CancellationToken cancellationToken)
    {
        var pods = await Api.PodsAsync(request.Target, cancellationToken);
        var now = time.GetUtcNow();
        var since = now.AddSeconds(-p.WindowSeconds);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var pod in pods)
        {
            foreach (var container in PodStates.Containers(pod))
            {
                counts[$"{pod.Metadata.Uid}/{container.Name}"] = container.RestartCount;
            }
        }

        var history = _history.GetOrAdd(request.Target.Key, _ => new Queue<Reading>());
        Reading? baseline;
        lock (history)
        {
            baseline = history.LastOrDefault(r => r.At <= since) ?? history.FirstOrDefault();
            history.Enqueue(new Reading(now, counts));
            // Readings older than a day (the longest window) or beyond the cap serve no window.
            while (history.Count > KeptPerTarget || (history.Count > 1 && history.Peek().At < now.AddDays(-1)))
            {
                history.Dequeue();
            }
        }

        var restarts = 0;
        foreach (var pod in pods)
        {
            var createdInWindow = pod.Metadata.CreationTimestamp is { } created && created >= since.UtcDateTime;
            foreach (var container in PodStates.Containers(pod))
            {
                var lastEndedInWindow = container.LastState?.Terminated?.FinishedAt is { } ended && ended >= since.UtcDateTime ? 1 : 0;
                restarts += createdInWindow ? container.RestartCount
                    : baseline?.Counts.TryGetValue($"{pod.Metadata.Uid}/{container.Name}", out var then) == true ? Math.Max(container.RestartCount - then, lastEndedInWindow)
                    : lastEndedInWindow;
            }
        }

        return restarts;
    }

    private sealed record Reading(DateTimeOffset At, IReadOnlyDictionary<string, int> Counts);
}
