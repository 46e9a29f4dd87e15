using System.ComponentModel.DataAnnotations;
using System.Net;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace Grace.Engine.Adapters.Kubernetes;

/// <summary><c>Grace:Kubernetes</c>: how the event watcher reconnects.</summary>
public sealed class KubernetesOptions
{
    public const string Section = "Grace:Kubernetes";

    /// <summary>The first wait before a watch that ended in an error is opened again; it doubles (with jitter) up to the longest.</summary>
    [Range(0.01, 600, ErrorMessage = "Grace:Kubernetes:ReconnectDelaySeconds must be between 0.01 and 600.")]
    public double ReconnectDelaySeconds { get; set; } = 1;

    [Range(0.1, 3600, ErrorMessage = "Grace:Kubernetes:MaxReconnectDelaySeconds must be between 0.1 and 3600.")]
    public double MaxReconnectDelaySeconds { get; set; } = 60;
}

/// <summary>Which of a pod's troubles an event told.</summary>
public enum PodTrouble
{
    /// <summary>A container keeps failing; the kubelet backs off restarting it.</summary>
    CrashLoopBackOff,

    /// <summary>A container was killed for using more memory than its limit.</summary>
    OOMKilled,

    /// <summary>The scheduler found no node for the pod.</summary>
    FailedScheduling,
}

/// <summary>
/// Watches the warning events of the pods of every Kubernetes target (unless its <c>WatchEvents</c>
/// is false) and turns the ones that say a pod is in trouble into signals from
/// <c>kubernetes:&lt;target&gt;</c>, labelled with the <c>reason</c> (<see cref="PodTrouble"/>),
/// namespace, pod and workload: a back-off restarting a container (CrashLoopBackOff, or OOMKilled
/// when the container's last end was the kernel's memory kill), and a pod the scheduler could not
/// place (FailedScheduling). Each watch lists the namespace's events first and watches from that
/// version, so old events are not reported again; a watch the server ends is reopened from the last
/// version seen, one that fails (or whose version expired, 410 Gone) is reopened after a Polly
/// backoff. In a cluster, a target's events are watched by the instance its <c>Instance</c> (or
/// <c>Grace:Cluster:DefaultTargetInstance</c>) names, else by every instance, whose repeats fold
/// into the same incident.
/// </summary>
public sealed class KubernetesEventWatcher(
    IServiceProvider services,
    KubernetesApi api,
    ISignalSink sink,
    IOptions<KubernetesOptions> options,
    TimeProvider time,
    ILogger<KubernetesEventWatcher> logger) : BackgroundService
{
    /// <summary>Events of a pod in trouble are warnings about pods; the API server filters the rest out.</summary>
    public const string FieldSelector = "involvedObject.kind=Pod,type=Warning";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Resolved here, not injected: the catalog's validator sits beneath the executors, which sit beneath this.
        var catalog = services.GetRequiredService<IOptionsMonitor<CatalogOptions>>();
        var targets = services.GetRequiredService<TargetRegistry>();
        var instance = services.GetRequiredService<Cluster.GraceInstance>();
        var watched = catalog.CurrentValue.Targets
            .Where(t => t.Value.Kind == KubernetesKind.Id && targets.Unconfigured(t.Key) is null)
            .Where(t => !instance.IsClustered || instance.InstanceOf(t.Value) is not { } owner || string.Equals(owner, instance.Name, StringComparison.OrdinalIgnoreCase))
            .Select(t => targets.Resolve(t.Key))
            .Where(t => t.KindSettings is KubernetesTarget { WatchEvents: true })
            .ToList();
        await Task.WhenAll(watched.Select(t => WatchAsync(t, stoppingToken)));
    }

    /// <summary>Watches one target's events until Grace stops, reopening the watch whenever it ends.</summary>
    public async Task WatchAsync(ResolvedTarget target, CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var reconnect = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromSeconds(settings.ReconnectDelaySeconds),
                MaxDelay = TimeSpan.FromSeconds(Math.Max(settings.ReconnectDelaySeconds, settings.MaxReconnectDelaySeconds)),
                OnRetry = args =>
                {
                    logger.LogWarning("The watch of {Target}'s Kubernetes events failed ({Reason}); reopening it in {Delay:0.#} s",
                        target.Key, args.Outcome.Exception?.Message, args.RetryDelay.TotalSeconds);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
        var position = new WatchPosition();
        logger.LogInformation("Watching the Kubernetes events of {Target} ({What})", target.Key, target.Settings<KubernetesTarget>().Describe());
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await reconnect.ExecuteAsync(ct => new ValueTask(WatchOnceAsync(target, position, ct)), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Where a watch stands: the last resource version seen, from which the next watch resumes (null: list first).</summary>
    private sealed class WatchPosition
    {
        public string? ResourceVersion { get; set; }
    }

    private async Task WatchOnceAsync(ResolvedTarget target, WatchPosition position, CancellationToken cancellationToken)
    {
        var settings = target.Settings<KubernetesTarget>();
        var ns = settings.Namespace;
        if (position.ResourceVersion is null)
        {
            // Listing first gives the version to watch from: what happened before Grace looked is not news.
            var list = await api.CallAsync(target, $"GET events {ns}",
                (k, ct) => k.CoreV1.ListNamespacedEventAsync(ns, fieldSelector: FieldSelector, cancellationToken: ct), cancellationToken);
            position.ResourceVersion = list.Metadata?.ResourceVersion ?? "0";
        }

        Exception? failure = null;
        var opened = time.GetTimestamp();
        var events = 0;
        var client = api.ClientOf(target);
        // The client reports an ERROR line (a Status: 410 Gone, say) and keeps reading; the watch is
        // over by then, so it is ended here rather than left waiting for the server to close it.
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            await foreach (var (type, item) in client.CoreV1.WatchListNamespacedEventAsync(ns, allowWatchBookmarks: true, fieldSelector: FieldSelector,
                               resourceVersion: position.ResourceVersion, onError: OnError, cancellationToken: ended.Token))
            {
                events++;
                if (item?.Metadata?.ResourceVersion is { } version)
                {
                    position.ResourceVersion = version;
                }

                if (type is WatchEventType.Added or WatchEventType.Modified && item is not null)
                {
                    await ReportAsync(target, item, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (failure is not null && !cancellationToken.IsCancellationRequested)
        {
            // Ended by OnError: the failure is handled below.
        }

        void OnError(Exception ex)
        {
            failure ??= ex;
            if (ex is KubernetesException)
            {
                ended.Cancel();
            }
        }

        if (failure is KubernetesException { Status.Code: (int)HttpStatusCode.Gone })
        {
            // The version is too old for the server to resume from: list again.
            position.ResourceVersion = null;
            throw new KubernetesApiException($"The watch of events in {ns} expired (410 Gone): listing them again.", 410, transient: true);
        }

        if (failure is not null)
        {
            throw new KubernetesApiException($"The watch of events in {ns} failed: {failure.Message}", null, transient: true);
        }

        // A server that ends every watch at once would have Grace spin: such an end waits like a failure.
        if (events == 0 && time.GetElapsedTime(opened) < TimeSpan.FromSeconds(1))
        {
            throw new KubernetesApiException($"The API server at {settings.Server} ended the watch of events in {ns} at once.", null, transient: true);
        }
    }

    /// <summary>Reports an event about one of the target's pods as a signal, when it tells of trouble.</summary>
    private async Task ReportAsync(ResolvedTarget target, Corev1Event item, CancellationToken cancellationToken)
    {
        PodTrouble? trouble = item.Reason switch
        {
            "BackOff" or PodStates.CrashLoopBackOff => PodTrouble.CrashLoopBackOff,
            PodStates.OomKilled or "OOMKilling" => PodTrouble.OOMKilled,
            "FailedScheduling" => PodTrouble.FailedScheduling,
            _ => null,
        };
        if (trouble is not { } kind || item.InvolvedObject?.Name is not { } podName)
        {
            return;
        }

        var settings = target.Settings<KubernetesTarget>();
        V1Pod pod;
        LabelSelector selector;
        try
        {
            selector = await api.SelectorAsync(target, cancellationToken);
            pod = await api.CallAsync(target, $"GET pod {settings.Namespace}/{podName}",
                (k, ct) => k.CoreV1.ReadNamespacedPodAsync(podName, settings.Namespace, cancellationToken: ct), cancellationToken);
        }
        catch (Execute.ActionRefusedException)
        {
            return; // The pod is gone already (or was never readable): nothing to report about it.
        }

        if (!selector.Matches(pod.Metadata.Labels))
        {
            return; // Another workload's pod in the same namespace.
        }

        // A back-off after the kernel killed a container for memory is an OOM, whatever the event calls it.
        var container = PodStates.OomKilledContainer(pod);
        if (kind == PodTrouble.CrashLoopBackOff && container is not null)
        {
            kind = PodTrouble.OOMKilled;
        }

        var what = settings.Workload?.ToString() ?? $"pods {settings.Selector}";
        var labels = new Dictionary<string, string>
        {
            ["reason"] = kind.ToString(),
            ["namespace"] = settings.Namespace,
            ["pod"] = podName,
            ["workload"] = what,
        };
        if (container is not null && kind == PodTrouble.OOMKilled)
        {
            labels["container"] = container;
        }

        var template = $"Kubernetes {kind} in {target.Key}";
        sink.TryWrite(new Signal($"{SignalSources.Kubernetes}{target.Key}", $"{template} ({what}, namespace {settings.Namespace}): pod {podName}: {item.Message}",
            Severity.Error, time.GetUtcNow(), MessageTemplate: template, Target: target.Key, Labels: labels, ReportedBy: "engine"));
    }
}
