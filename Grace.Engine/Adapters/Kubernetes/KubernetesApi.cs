using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Grace.Engine.Adapters.Kubernetes;

/// <summary>
/// A workload as Grace reads it, the same way for a Deployment and a StatefulSet: what it wants,
/// what runs, how far its rollout is, and the pod template its rollbacks work on.
/// </summary>
public sealed record Workload(
    WorkloadRef Ref,
    string Uid,
    long Generation,
    long ObservedGeneration,
    int Desired,
    int Replicas,
    int Ready,
    int Available,
    int Updated,
    bool Paused,
    LabelSelector Selector,
    V1PodTemplateSpec Template,
    IDictionary<string, string> Annotations,
    string? CurrentRevision,
    string? UpdateRevision)
{
    public const string RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt";

    /// <summary>When the pod template was last restarted (kubectl's annotation); null when never.</summary>
    public string? RestartedAt => Template.Metadata?.Annotations?.TryGetValue(RestartedAtAnnotation, out var at) == true ? at : null;

    /// <summary>A Deployment's revision number (its <c>deployment.kubernetes.io/revision</c>).</summary>
    public long? Revision => Annotations.TryGetValue(RolloutUndoAction.RevisionAnnotation, out var r) && long.TryParse(r, CultureInfo.InvariantCulture, out var n) ? n : null;

    /// <summary>
    /// How far the rollout is, 0 to 100: none until the controller has seen the latest spec, then
    /// the share of wanted replicas both updated and available (ready, for a StatefulSet); 100
    /// only once no old replica is left.
    /// </summary>
    public double Progress()
    {
        if (ObservedGeneration < Generation)
        {
            return 0;
        }

        if (Desired == 0)
        {
            return Replicas == 0 ? 100 : 0;
        }

        var done = Ref.Kind == WorkloadKind.Deployment
            ? Updated == Desired && Available == Desired && Replicas == Desired
            : Updated == Desired && Ready == Desired && (UpdateRevision is null || UpdateRevision == CurrentRevision);
        if (done)
        {
            return 100;
        }

        var served = Math.Min(Updated, Ref.Kind == WorkloadKind.Deployment ? Available : Ready);
        return Math.Min(99, Math.Floor(100.0 * served / Desired));
    }

    /// <summary>"3/3 ready, generation 7".</summary>
    public string Describe() => $"{Ready}/{Desired} ready, {Available} available, generation {Generation}";
}

/// <summary>
/// The API clients of Kubernetes targets (one per target, built from its kubeconfig or service
/// account), and every call through them: a failure comes back as a sentence naming what was
/// asked and what the API server said, transient (5xx, 429, unreachable, slow) or not (4xx). No
/// retry here: actions already run inside Grace's action pipeline, probes inside its probe pipeline.
/// </summary>
public sealed class KubernetesApi : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<IKubernetes>> _clients = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Grace's requests say who sends them, so the API server's audit log tells Grace from kubectl.</summary>
    public const string UserAgent = "grace-healing-engine";

    /// <summary>The client of a target.</summary>
    public IKubernetes ClientOf(ResolvedTarget target)
    {
        var settings = target.Settings<KubernetesTarget>();
        // Keyed by what the client is built from too: a target whose kubeconfig, context or timeout
        // changed gets a client of its own rather than the old cluster's.
        var key = $"{target.Key}|{settings.Credentials}|{settings.KubeconfigPath}|{settings.Context}|{settings.Server}|{settings.RequestTimeout.Ticks}";
        return _clients.GetOrAdd(key, _ => new Lazy<IKubernetes>(() => Build(settings))).Value;
    }

    private static k8s.Kubernetes Build(KubernetesTarget settings)
    {
        var config = settings.Credentials == CredentialSource.InCluster
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile(settings.KubeconfigPath, settings.Context);
        config.HttpClientTimeout = settings.RequestTimeout;
        config.UserAgent = UserAgent;
        return new k8s.Kubernetes(config, new BareJsonContentType());
    }

    /// <summary>
    /// Sends the body's media type bare (<c>application/strategic-merge-patch+json</c>), as kubectl
    /// does: JSON is UTF-8 by definition, and the client's added <c>charset</c> is the one way its
    /// requests would differ from kubectl's.
    /// </summary>
    private sealed class BareJsonContentType : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Content?.Headers.ContentType is { MediaType: { } type } contentType && type.EndsWith("json", StringComparison.Ordinal))
            {
                contentType.CharSet = null;
            }

            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>One call to the API server, its failure told as "what: why".</summary>
    public async Task<T> CallAsync<T>(ResolvedTarget target, string what, Func<IKubernetes, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        var settings = target.Settings<KubernetesTarget>();
        try
        {
            return await call(ClientOf(target), cancellationToken);
        }
        catch (HttpOperationException ex)
        {
            var status = (int)ex.Response.StatusCode;
            var said = $"{what}: the API server answered {status} {ex.Response.StatusCode}{Reason(ex.Response.Content)}";
            // The request (and its Authorization header) stays out of the exception: only what the server said travels.
            if (KubernetesApiException.IsTransientStatus(status))
            {
                throw new KubernetesApiException(said, status, transient: true);
            }

            throw status == (int)HttpStatusCode.NotFound
                ? new ActionRefusedException($"{said} (is {settings.Describe()} right, on the cluster at {settings.Server}?)")
                : new ActionRefusedException(said);
        }
        catch (HttpRequestException ex)
        {
            throw new KubernetesApiException($"{what}: the API server at {settings.Server} cannot be reached: {ex.Message}", null, transient: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The client's own timeout, not Grace cancelling: worth a retry, and a reason the mission can fail with.
            throw new KubernetesApiException($"{what}: the API server at {settings.Server} did not answer within {settings.RequestTimeout.TotalSeconds:0.#} s.", null, transient: true);
        }
    }

    /// <summary>The target's workload; a refusal when the target names none (a selector-only target).</summary>
    public async Task<Workload> WorkloadAsync(ResolvedTarget target, CancellationToken cancellationToken)
    {
        var settings = target.Settings<KubernetesTarget>();
        var workload = settings.Workload ?? throw new ActionRefusedException(
            $"Target '{target.Key}' names pods by a selector and no workload: set Grace:Targets:{target.Key}:Workload.");
        var ns = settings.Namespace;
        return workload.Kind switch
        {
            WorkloadKind.Deployment => Of(workload, await CallAsync(target, $"GET deployment {ns}/{workload.Name}",
                (k, ct) => k.AppsV1.ReadNamespacedDeploymentAsync(workload.Name, ns, cancellationToken: ct), cancellationToken)),
            _ => Of(workload, await CallAsync(target, $"GET statefulset {ns}/{workload.Name}",
                (k, ct) => k.AppsV1.ReadNamespacedStatefulSetAsync(workload.Name, ns, cancellationToken: ct), cancellationToken)),
        };
    }

    private static Workload Of(WorkloadRef workload, V1Deployment d) => new(workload, d.Metadata.Uid, d.Metadata.Generation ?? 0, d.Status?.ObservedGeneration ?? 0,
        d.Spec.Replicas ?? 1, d.Status?.Replicas ?? 0, d.Status?.ReadyReplicas ?? 0, d.Status?.AvailableReplicas ?? 0, d.Status?.UpdatedReplicas ?? 0,
        d.Spec.Paused ?? false, LabelSelector.From(d.Spec.Selector), d.Spec.Template, d.Metadata.Annotations ?? new Dictionary<string, string>(), null, null);

    private static Workload Of(WorkloadRef workload, V1StatefulSet s) => new(workload, s.Metadata.Uid, s.Metadata.Generation ?? 0, s.Status?.ObservedGeneration ?? 0,
        s.Spec.Replicas ?? 1, s.Status?.Replicas ?? 0, s.Status?.ReadyReplicas ?? 0, s.Status?.AvailableReplicas ?? 0, s.Status?.UpdatedReplicas ?? 0,
        false, LabelSelector.From(s.Spec.Selector), s.Spec.Template, s.Metadata.Annotations ?? new Dictionary<string, string>(), s.Status?.CurrentRevision, s.Status?.UpdateRevision);

    /// <summary>The selector of the target's pods: its own <c>Selector</c>, else its workload's.</summary>
    public async Task<LabelSelector> SelectorAsync(ResolvedTarget target, CancellationToken cancellationToken) =>
        target.Settings<KubernetesTarget>().Selector ?? (await WorkloadAsync(target, cancellationToken)).Selector;

    /// <summary>The target's pods, those on their way out (being deleted) left aside.</summary>
    public async Task<IReadOnlyList<V1Pod>> PodsAsync(ResolvedTarget target, CancellationToken cancellationToken)
    {
        var settings = target.Settings<KubernetesTarget>();
        var selector = (await SelectorAsync(target, cancellationToken)).ToString();
        var list = await CallAsync(target, $"GET pods {settings.Namespace} ({selector})",
            (k, ct) => k.CoreV1.ListNamespacedPodAsync(settings.Namespace, labelSelector: selector, cancellationToken: ct), cancellationToken);
        return [.. list.Items.Where(p => p.Metadata.DeletionTimestamp is null)];
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values.Where(c => c.IsValueCreated))
        {
            client.Value.Dispose();
        }
    }

    /// <summary>The API server's own reason, from the Status it answered with, when it sent one.</summary>
    private static string Reason(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return ".";
        }

        try
        {
            var status = KubernetesJson.Deserialize<V1Status>(body);
            return string.IsNullOrWhiteSpace(status?.Message) ? "." : $": {status.Message}";
        }
        catch (JsonException)
        {
            return $": {(body.Length > 300 ? body[..300] : body)}";
        }
    }
}

/// <summary>What Grace reads in a pod's status.</summary>
public static class PodStates
{
    public const string CrashLoopBackOff = "CrashLoopBackOff";
    public const string OomKilled = "OOMKilled";

    /// <summary>A pod's init and app containers' statuses, in that order.</summary>
    public static IEnumerable<V1ContainerStatus> Containers(V1Pod pod) =>
        (pod.Status?.InitContainerStatuses ?? []).Concat(pod.Status?.ContainerStatuses ?? []);

    /// <summary>A container of the pod waits in CrashLoopBackOff: it keeps failing and the kubelet backs off restarting it.</summary>
    public static bool IsCrashLooping(V1Pod pod) => Containers(pod).Any(c => c.State?.Waiting?.Reason == CrashLoopBackOff);

    /// <summary>A container of the pod last ended because the kernel killed it for memory.</summary>
    public static string? OomKilledContainer(V1Pod pod) =>
        Containers(pod).FirstOrDefault(c => c.LastState?.Terminated?.Reason == OomKilled || c.State?.Terminated?.Reason == OomKilled)?.Name;

    /// <summary>Running with every container running: not pending, failed, or waiting (CrashLoopBackOff, ImagePullBackOff...).</summary>
    public static bool IsRunning(V1Pod pod) =>
        pod.Status?.Phase == "Running" && (pod.Status.ContainerStatuses ?? []).All(c => c.State?.Waiting is null);

    /// <summary>The pod's Ready condition is true.</summary>
    public static bool IsReady(V1Pod pod) => pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;

    /// <summary>How the pod is, as <c>kubectl get pods</c> would say it (CrashLoopBackOff, Pending, Running).</summary>
    public static string Describe(V1Pod pod) =>
        Containers(pod).Select(c => c.State?.Waiting?.Reason).FirstOrDefault(r => r is not null) ?? pod.Status?.Phase ?? "Unknown";

    public static int Restarts(V1Pod pod) => Containers(pod).Sum(c => c.RestartCount);
}
