using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Grace.Engine.Adapters.Kubernetes;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Grace.Tests.Adapters.Kubernetes;

/// <summary>One request the fake API server received, as the golden shapes describe it.</summary>
public sealed record ApiRequest(string Method, string Path, string Query, string? ContentType, string Body)
{
    public override string ToString() => $"{Method} {Path}{(Query.Length > 0 ? "?" + Query : "")} [{ContentType}] {Body}";
}

/// <summary>
/// A loopback HTTP server that answers as a Kubernetes API server does for the objects Grace reads
/// and changes (Deployments with their ReplicaSets, StatefulSets with their ControllerRevisions,
/// pods, nodes, events and their watch), and refuses, recording a violation, every change whose
/// request is not shaped exactly as kubectl v1.32.4 sends it (captured on this machine against a
/// loopback stub; see VERIFIED-STACK.md): method, path, query, patch content type and body.
/// A one-line "controller" stands in for the real ones: a workload's pods follow its template and
/// replica count at once, crash-looping while its image is broken or it is stuck, Running otherwise.
/// What it does not do (admission, RBAC, gradual rollouts) the README says.
/// </summary>
public sealed partial class FakeKubernetesApi : IAsyncDisposable
{
    public const string Namespace = "shop";

    private readonly object _gate = new();
    private readonly WebApplication _app;
    private readonly List<ApiRequest> _requests = [];
    private readonly List<string> _violations = [];
    private readonly List<Channel<string>> _watches = [];
    private readonly Queue<(int Status, string Message)> _failures = new();
    private long _resourceVersion = 100;
    private int _podSerial;

    public string Token { get; } = $"grace-test-token-{Guid.NewGuid():N}";

    /// <summary>Images whose containers crash as soon as they start.</summary>
    public HashSet<string> BrokenImages { get; } = ["orders:broken"];

    public Dictionary<string, FakeWorkload> Deployments { get; } = [];

    public Dictionary<string, FakeWorkload> StatefulSets { get; } = [];

    public Dictionary<string, FakeNode> Nodes { get; } = [];

    /// <summary>HorizontalPodAutoscalers by name: (the kind and name they scale, min, max).</summary>
    public Dictionary<string, (string Kind, string Name, int Min, int Max)> Autoscalers { get; } = [];

    /// <summary>Pods by name; the controller keeps them in step with their workloads.</summary>
    public Dictionary<string, JsonObject> Pods { get; } = [];

    /// <summary>Pods that crash whatever their image (a poisoned pod: a bad disk, a corrupt local cache).</summary>
    public HashSet<string> PoisonedPods { get; } = [];

    /// <summary>How long a request waits before it is answered (to make the server slow).</summary>
    public TimeSpan Delay { get; set; }

    public Uri Url { get; private set; } = null!;

    private FakeKubernetesApi(WebApplication app) => _app = app;

    public IReadOnlyList<ApiRequest> Requests { get { lock (_gate) { return [.. _requests]; } } }

    /// <summary>Requests that were not shaped as kubectl sends them; a test expects none.</summary>
    public IReadOnlyList<string> Violations { get { lock (_gate) { return [.. _violations]; } } }

    /// <summary>The changes (PATCH, DELETE) received, in order.</summary>
    public IReadOnlyList<ApiRequest> Changes => [.. Requests.Where(r => r.Method is "PATCH" or "DELETE")];

    /// <summary>The watch requests received, in order.</summary>
    public IReadOnlyList<ApiRequest> WatchRequests => [.. Requests.Where(r => r.Query.Contains("watch=true", StringComparison.Ordinal))];

    public static async Task<FakeKubernetesApi> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var fake = new FakeKubernetesApi(app);
        app.Run(fake.HandleAsync);
        await app.StartAsync();
        fake.Url = new Uri(app.Urls.First());
        return fake;
    }

    /// <summary>Writes a kubeconfig for this server, with its bearer token, and returns its path.</summary>
    public string WriteKubeconfig(TempFolder folder, string name = "kubeconfig", int? port = null)
    {
        var path = folder.Combine(name);
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: http://127.0.0.1:{port ?? Url.Port}
            users:
            - name: grace
              user:
                token: {Token}
            contexts:
            - name: fake
              context:
                cluster: fake
                user: grace
                namespace: {Namespace}
            current-context: fake
            """);
        return path;
    }

    /// <summary>A target of this cluster, bound by the Kubernetes kind as Grace binds it.</summary>
    public static Grace.Engine.Targets.ResolvedTarget Target(TempFolder folder, string kubeconfig, string key, Dictionary<string, string?> settings)
    {
        var section = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Append(new("Kubeconfig", kubeconfig)).Append(new("Kind", "Kubernetes")).Select(kv => new KeyValuePair<string, string?>($"Grace:Targets:{key}:{kv.Key}", kv.Value)))
            .Build().GetSection($"Grace:Targets:{key}");
        var bound = new KubernetesKind(new Grace.Engine.Targets.PathResolver(new TestHostEnvironment(folder.Path))).Bind(key, section);
        Assert.True(bound.Value is not null, $"the target did not bind: {string.Join(" ", bound.Faults)} {bound.Missing}");
        return new Grace.Engine.Targets.ResolvedTarget(key, KubernetesKind.Id, null, new Grace.Engine.Configuration.TargetOptions { Kind = KubernetesKind.Id }, bound.Value);
    }

    /// <summary>The next requests answer with this status (and a Status body saying why), whatever they ask.</summary>
    public void FailNext(int status, string message, int times = 1)
    {
        lock (_gate)
        {
            for (var i = 0; i < times; i++)
            {
                _failures.Enqueue((status, message));
            }
        }
    }

    /// <summary>A Deployment of <paramref name="replicas"/> pods labelled app=<paramref name="name"/>, whose history is <paramref name="images"/> (oldest first).</summary>
    public FakeWorkload AddDeployment(string name, int replicas, params string[] images)
    {
        lock (_gate)
        {
            var workload = new FakeWorkload(name, WorkloadKind.Deployment, replicas);
            foreach (var image in images)
            {
                workload.Template = Template(name, image);
                workload.Remember();
            }

            Deployments[name] = workload;
            Reconcile(workload);
            return workload;
        }
    }

    /// <summary>A StatefulSet whose history is <paramref name="images"/> (oldest first).</summary>
    public FakeWorkload AddStatefulSet(string name, int replicas, params string[] images)
    {
        lock (_gate)
        {
            var workload = new FakeWorkload(name, WorkloadKind.StatefulSet, replicas);
            foreach (var image in images)
            {
                workload.Template = Template(name, image);
                workload.Remember();
            }

            StatefulSets[name] = workload;
            Reconcile(workload);
            return workload;
        }
    }

    public void AddNode(string name, bool unschedulable = false, bool ready = true)
    {
        lock (_gate)
        {
            Nodes[name] = new FakeNode(name) { Unschedulable = unschedulable, Ready = ready };
        }
    }

    /// <summary>Marks a workload stuck (its pods crash-loop until its template changes) and refreshes its pods.</summary>
    public void Update(Action change)
    {
        lock (_gate)
        {
            change();
            foreach (var w in Deployments.Values.Concat(StatefulSets.Values))
            {
                Reconcile(w);
            }
        }
    }

    /// <summary>Sends an event to every open watch (as the API server does when a component records one).</summary>
    public void Emit(string type, string reason, string podName, string message)
    {
        string line;
        Channel<string>[] watches;
        lock (_gate)
        {
            var version = (++_resourceVersion).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var item = new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Event",
                ["metadata"] = new JsonObject { ["name"] = $"{podName}.{version}", ["namespace"] = Namespace, ["resourceVersion"] = version },
                ["involvedObject"] = new JsonObject { ["kind"] = "Pod", ["name"] = podName, ["namespace"] = Namespace },
                ["reason"] = reason, ["message"] = message, ["type"] = "Warning", ["count"] = 1,
            };
            line = new JsonObject { ["type"] = type, ["object"] = item }.ToJsonString();
            watches = [.. _watches];
        }

        foreach (var watch in watches)
        {
            watch.Writer.TryWrite(line);
        }
    }

    /// <summary>Sends a raw watch line (an ERROR with a Status, say) to every open watch.</summary>
    public void EmitRaw(string line)
    {
        lock (_gate)
        {
            foreach (var watch in _watches)
            {
                watch.Writer.TryWrite(line);
            }
        }
    }

    /// <summary>Ends every open watch, as the API server does when a watch's timeout passes.</summary>
    public void EndWatches()
    {
        lock (_gate)
        {
            foreach (var watch in _watches)
            {
                watch.Writer.TryComplete();
            }

            _watches.Clear();
        }
    }

    public int OpenWatches { get { lock (_gate) { return _watches.Count; } } }

    public async ValueTask DisposeAsync()
    {
        EndWatches();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static JsonObject Template(string app, string image) => new()
    {
        ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["app"] = app } },
        ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "app", ["image"] = image }) },
    };

    // ---- the stand-in controller ----

    /// <summary>Brings the pods of a workload in step with its template and count, and its status with its pods.</summary>
    private void Reconcile(FakeWorkload w)
    {
        var hash = w.Hash();
        var mine = Pods.Values.Where(p => p["metadata"]!["labels"]!["app"]!.GetValue<string>() == w.Name).ToList();
        foreach (var stale in mine.Where(p => p["metadata"]!["labels"]!["pod-template-hash"]?.GetValue<string>() != hash).ToList())
        {
            Pods.Remove(stale["metadata"]!["name"]!.GetValue<string>());
            mine.Remove(stale);
        }

        while (mine.Count > w.Replicas)
        {
            Pods.Remove(mine[^1]["metadata"]!["name"]!.GetValue<string>());
            mine.RemoveAt(mine.Count - 1);
        }

        while (mine.Count < w.Replicas)
        {
            var name = w.Kind == WorkloadKind.StatefulSet ? $"{w.Name}-{mine.Count}" : $"{w.Name}-{hash}-{++_podSerial:x5}";
            var pod = new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Pod",
                ["metadata"] = new JsonObject
                {
                    ["name"] = name, ["namespace"] = Namespace, ["uid"] = Guid.NewGuid().ToString(),
                    ["creationTimestamp"] = DateTime.UtcNow.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
                    ["labels"] = new JsonObject { ["app"] = w.Name, ["pod-template-hash"] = hash },
                },
                ["spec"] = new JsonObject { ["nodeName"] = Nodes.Keys.FirstOrDefault() ?? "node-1", ["containers"] = w.Template["spec"]!["containers"]!.DeepClone() },
            };
            Pods[name] = pod;
            mine.Add(pod);
        }

        var image = w.Template["spec"]!["containers"]![0]!["image"]!.GetValue<string>();
        foreach (var pod in mine)
        {
            var crashing = w.Stuck || BrokenImages.Contains(image) || PoisonedPods.Contains(pod["metadata"]!["name"]!.GetValue<string>());
            var restarts = pod["status"]?["containerStatuses"]?[0]?["restartCount"]?.GetValue<int>() ?? 0;
            pod["status"] = new JsonObject
            {
                ["phase"] = "Running",
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = crashing ? "False" : "True" }),
                ["containerStatuses"] = new JsonArray(new JsonObject
                {
                    ["name"] = "app", ["image"] = image, ["ready"] = !crashing, ["restartCount"] = crashing ? Math.Max(restarts, 5) : restarts,
                    ["state"] = crashing
                        ? new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "CrashLoopBackOff", ["message"] = "back-off 5m0s restarting failed container" } }
                        : new JsonObject { ["running"] = new JsonObject() },
                    ["lastState"] = crashing ? new JsonObject { ["terminated"] = new JsonObject { ["reason"] = w.OomKilled ? "OOMKilled" : "Error", ["exitCode"] = 1 } } : new JsonObject(),
                }),
            };
        }

        var ready = mine.Count(p => p["status"]!["conditions"]![0]!["status"]!.GetValue<string>() == "True");
        w.Ready = ready;
        w.ObservedGeneration = w.Generation;
    }

    // ---- the API ----

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var seen = new ApiRequest(request.Method, request.Path.Value ?? "", request.QueryString.Value?.TrimStart('?') ?? "", request.ContentType, body);
        (int Status, string Message)? failure = null;
        lock (_gate)
        {
            _requests.Add(seen);
            if (_failures.Count > 0)
            {
                failure = _failures.Dequeue();
            }
        }

        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, context.RequestAborted);
        }

        if (request.Headers.Authorization.ToString() != $"Bearer {Token}")
        {
            await AnswerAsync(context, 401, Status(401, "Unauthorized", "no or the wrong bearer token"));
            return;
        }

        if (failure is { } f)
        {
            await AnswerAsync(context, f.Status, Status(f.Status, "Failure", f.Message));
            return;
        }

        if (request.Query["watch"] == "true")
        {
            await WatchAsync(context);
            return;
        }

        (int Status, JsonNode Body) answer;
        lock (_gate)
        {
            answer = Route(seen, request.Query);
        }

        await AnswerAsync(context, answer.Status, answer.Body);
    }

    private static async Task AnswerAsync(HttpContext context, int status, JsonNode body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString());
    }

    private async Task WatchAsync(HttpContext context)
    {
        var channel = Channel.CreateUnbounded<string>();
        lock (_gate)
        {
            _watches.Add(channel);
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.StartAsync(context.RequestAborted);
        try
        {
            await foreach (var line in channel.Reader.ReadAllAsync(context.RequestAborted))
            {
                await context.Response.WriteAsync(line + "\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away.
        }
        finally
        {
            lock (_gate)
            {
                _watches.Remove(channel);
            }
        }
    }

    private (int, JsonNode) Route(ApiRequest r, IQueryCollection query)
    {
        var ns = $"/namespaces/{Namespace}";
        Match m;
        if ((m = Regex.Match(r.Path, $"^/apis/apps/v1{ns}/(deployments|statefulsets)/([a-z0-9-]+)(/scale)?$")).Success)
        {
            var set = m.Groups[1].Value == "deployments" ? Deployments : StatefulSets;
            if (!set.TryGetValue(m.Groups[2].Value, out var w))
            {
                return (404, Status(404, "NotFound", $"{m.Groups[1].Value}.apps \"{m.Groups[2].Value}\" not found"));
            }

            return (r.Method, m.Groups[3].Success) switch
            {
                ("GET", false) => (200, w.ToJson(Namespace)),
                ("PATCH", true) => Scale(r, w),
                ("PATCH", false) => PatchWorkload(r, w),
                _ => Refuse(r, "no such operation on a workload"),
            };
        }

        if (r.Path == $"/apis/apps/v1{ns}/replicasets" && r.Method == "GET")
        {
            var items = new JsonArray();
            foreach (var w in Deployments.Values.Where(d => Selects(query["labelSelector"], d.Name)))
            {
                foreach (var (revision, template) in w.History)
                {
                    var hash = FakeWorkload.HashOf(template);
                    var withHash = (JsonObject)template.DeepClone();
                    withHash["metadata"]!["labels"]!["pod-template-hash"] = hash;
                    items.Add(new JsonObject
                    {
                        ["metadata"] = new JsonObject
                        {
                            ["name"] = $"{w.Name}-{hash}", ["namespace"] = Namespace, ["uid"] = $"{w.Name}-{hash}-uid",
                            ["annotations"] = new JsonObject { [RolloutUndoAction.RevisionAnnotation] = revision.ToString(System.Globalization.CultureInfo.InvariantCulture), ["deployment.kubernetes.io/desired-replicas"] = w.Replicas.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                            ["labels"] = new JsonObject { ["app"] = w.Name, ["pod-template-hash"] = hash },
                            ["ownerReferences"] = new JsonArray(new JsonObject { ["apiVersion"] = "apps/v1", ["kind"] = "Deployment", ["name"] = w.Name, ["uid"] = w.Uid, ["controller"] = true }),
                        },
                        ["spec"] = new JsonObject { ["replicas"] = 0, ["template"] = withHash },
                    });
                }
            }

            return (200, new JsonObject { ["kind"] = "ReplicaSetList", ["apiVersion"] = "apps/v1", ["metadata"] = new JsonObject { ["resourceVersion"] = Version() }, ["items"] = items });
        }

        if (r.Path == $"/apis/apps/v1{ns}/controllerrevisions" && r.Method == "GET")
        {
            var items = new JsonArray();
            foreach (var w in StatefulSets.Values.Where(s => Selects(query["labelSelector"], s.Name)))
            {
                foreach (var (revision, template) in w.History)
                {
                    var data = (JsonObject)template.DeepClone();
                    data.Insert(0, "$patch", "replace");
                    items.Add(new JsonObject
                    {
                        ["metadata"] = new JsonObject
                        {
                            ["name"] = $"{w.Name}-{FakeWorkload.HashOf(template)}", ["namespace"] = Namespace, ["labels"] = new JsonObject { ["app"] = w.Name },
                            ["ownerReferences"] = new JsonArray(new JsonObject { ["apiVersion"] = "apps/v1", ["kind"] = "StatefulSet", ["name"] = w.Name, ["uid"] = w.Uid, ["controller"] = true }),
                        },
                        ["revision"] = revision,
                        ["data"] = new JsonObject { ["spec"] = new JsonObject { ["template"] = data } },
                    });
                }
            }

            return (200, new JsonObject { ["kind"] = "ControllerRevisionList", ["apiVersion"] = "apps/v1", ["metadata"] = new JsonObject { ["resourceVersion"] = Version() }, ["items"] = items });
        }

        if (r.Path == $"/api/v1{ns}/pods" && r.Method == "GET")
        {
            var items = new JsonArray([.. Pods.Values.Where(p => Selects(query["labelSelector"], p["metadata"]!["labels"]!["app"]!.GetValue<string>())).Select(p => p.DeepClone())]);
            return (200, new JsonObject { ["kind"] = "PodList", ["apiVersion"] = "v1", ["metadata"] = new JsonObject { ["resourceVersion"] = Version() }, ["items"] = items });
        }

        if ((m = Regex.Match(r.Path, $"^/api/v1{ns}/pods/([a-z0-9-]+)$")).Success)
        {
            if (!Pods.TryGetValue(m.Groups[1].Value, out var pod))
            {
                return (404, Status(404, "NotFound", $"pods \"{m.Groups[1].Value}\" not found"));
            }

            return r.Method switch
            {
                "GET" => (200, pod.DeepClone()),
                "DELETE" => DeletePod(r, pod),
                _ => Refuse(r, "no such operation on a pod"),
            };
        }

        if (r.Path == $"/apis/autoscaling/v2{ns}/horizontalpodautoscalers" && r.Method == "GET")
        {
            var items = new JsonArray([.. Autoscalers.Select(a => new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = a.Key, ["namespace"] = Namespace },
                ["spec"] = new JsonObject
                {
                    ["scaleTargetRef"] = new JsonObject { ["apiVersion"] = "apps/v1", ["kind"] = a.Value.Kind, ["name"] = a.Value.Name },
                    ["minReplicas"] = a.Value.Min, ["maxReplicas"] = a.Value.Max,
                },
            })]);
            return (200, new JsonObject { ["kind"] = "HorizontalPodAutoscalerList", ["apiVersion"] = "autoscaling/v2", ["metadata"] = new JsonObject { ["resourceVersion"] = Version() }, ["items"] = items });
        }

        if (r.Path == $"/api/v1{ns}/events" && r.Method == "GET")
        {
            return (200, new JsonObject { ["kind"] = "EventList", ["apiVersion"] = "v1", ["metadata"] = new JsonObject { ["resourceVersion"] = Version() }, ["items"] = new JsonArray() });
        }

        if (r.Path == "/api/v1/nodes" && r.Method == "GET")
        {
            return (200, new JsonObject { ["kind"] = "NodeList", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["items"] = new JsonArray([.. Nodes.Values.Select(n => n.ToJson())]) });
        }

        if ((m = Regex.Match(r.Path, "^/api/v1/nodes/([a-z0-9.-]+)$")).Success)
        {
            if (!Nodes.TryGetValue(m.Groups[1].Value, out var node))
            {
                return (404, Status(404, "NotFound", $"nodes \"{m.Groups[1].Value}\" not found"));
            }

            return r.Method switch
            {
                "GET" => (200, node.ToJson()),
                "PATCH" => PatchNode(r, node),
                _ => Refuse(r, "no such operation on a node"),
            };
        }

        return Refuse(r, "the fake API server does not serve this");
    }

    private string Version() => _resourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static bool Selects(string? selector, string app) => selector == $"app={app}";

    // ---- the golden shapes: what kubectl sends, and nothing else ----

    /// <summary>kubectl rollout restart: strategic merge, field manager kubectl-rollout, only the restartedAt annotation. kubectl rollout undo (Deployment): a JSON patch of two replaces. kubectl rollout undo (StatefulSet): the revision's data.</summary>
    private (int, JsonNode) PatchWorkload(ApiRequest r, FakeWorkload w)
    {
        if (r.ContentType == "application/strategic-merge-patch+json" && r.Query == $"fieldManager={RolloutRestartAction.FieldManager}")
        {
            var patch = JsonNode.Parse(r.Body)!;
            var at = patch["spec"]?["template"]?["metadata"]?["annotations"]?[Workload.RestartedAtAnnotation]?.GetValue<string>();
            var expected = new JsonObject { ["spec"] = new JsonObject { ["template"] = new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { [Workload.RestartedAtAnnotation] = at } } } } };
            if (at is null || !RestartedAt().IsMatch(at) || !JsonNode.DeepEquals(patch, expected))
            {
                return Refuse(r, "a restart is {\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/restartedAt\":\"<RFC 3339, UTC, seconds>\"}}}}}");
            }

            w.Template["metadata"]!["annotations"] = new JsonObject { [Workload.RestartedAtAnnotation] = at };
            w.Stuck = false;
            w.Changed();
            Reconcile(w);
            return (200, w.ToJson(Namespace));
        }

        if (w.Kind == WorkloadKind.Deployment && r.ContentType == "application/json-patch+json" && r.Query.Length == 0)
        {
            var ops = JsonNode.Parse(r.Body) as JsonArray;
            if (ops is not { Count: 2 } || ops[0]!["op"]?.GetValue<string>() != "replace" || ops[0]!["path"]?.GetValue<string>() != "/spec/template"
                || ops[1]!["op"]?.GetValue<string>() != "replace" || ops[1]!["path"]?.GetValue<string>() != "/metadata/annotations"
                || ops[0]!["value"] is not JsonObject template || ops[1]!["value"] is not JsonObject annotations
                || template["metadata"]?["labels"]?["pod-template-hash"] is not null)
            {
                return Refuse(r, "an undo is [{op: replace, path: /spec/template, value (no pod-template-hash)}, {op: replace, path: /metadata/annotations, value}]");
            }

            w.Template = (JsonObject)template.DeepClone();
            w.Annotations = (JsonObject)annotations.DeepClone();
            w.Stuck = false;
            w.Changed();
            Reconcile(w);
            return (200, w.ToJson(Namespace));
        }

        if (w.Kind == WorkloadKind.StatefulSet && r.ContentType == "application/strategic-merge-patch+json" && r.Query.Length == 0)
        {
            var patch = JsonNode.Parse(r.Body)!;
            if (patch is not JsonObject { Count: 1 } || patch["spec"] is not JsonObject { Count: 1 } spec || spec["template"] is not JsonObject template
                || template["$patch"]?.GetValue<string>() != "replace")
            {
                return Refuse(r, "a StatefulSet undo is {\"spec\":{\"template\":{\"$patch\":\"replace\", ...}}}");
            }

            var copy = (JsonObject)template.DeepClone();
            copy.Remove("$patch");
            w.Template = copy;
            w.Stuck = false;
            w.Changed();
            Reconcile(w);
            return (200, w.ToJson(Namespace));
        }

        return Refuse(r, "a workload is changed by a restart (strategic merge, fieldManager=kubectl-rollout) or an undo (JSON patch for a Deployment, strategic merge for a StatefulSet)");
    }

    /// <summary>kubectl scale: a merge patch of the scale subresource, {"spec":{"replicas":N}}, no query.</summary>
    private (int, JsonNode) Scale(ApiRequest r, FakeWorkload w)
    {
        var patch = r.ContentType == "application/merge-patch+json" && r.Query.Length == 0 ? JsonNode.Parse(r.Body) : null;
        var replicas = patch?["spec"]?["replicas"]?.GetValue<int>();
        if (replicas is not { } n || !JsonNode.DeepEquals(patch, new JsonObject { ["spec"] = new JsonObject { ["replicas"] = n } }))
        {
            return Refuse(r, "a scale is PATCH .../scale, application/merge-patch+json, {\"spec\":{\"replicas\":N}}");
        }

        w.Replicas = n;
        w.Generation++;
        Reconcile(w);
        return (200, new JsonObject { ["apiVersion"] = "autoscaling/v1", ["kind"] = "Scale", ["metadata"] = new JsonObject { ["name"] = w.Name, ["namespace"] = Namespace }, ["spec"] = new JsonObject { ["replicas"] = n } });
    }

    /// <summary>kubectl delete pod: application/json, {"propagationPolicy":"Background"}, no query.</summary>
    private (int, JsonNode) DeletePod(ApiRequest r, JsonObject pod)
    {
        if (r.ContentType != "application/json" || r.Query.Length > 0
            || !JsonNode.DeepEquals(JsonNode.Parse(r.Body), new JsonObject { ["propagationPolicy"] = "Background" }))
        {
            return Refuse(r, "a pod deletion is DELETE with {\"propagationPolicy\":\"Background\"}");
        }

        var name = pod["metadata"]!["name"]!.GetValue<string>();
        Pods.Remove(name);
        PoisonedPods.Remove(name);
        foreach (var w in Deployments.Values.Concat(StatefulSets.Values))
        {
            Reconcile(w);
        }

        return (200, pod.DeepClone());
    }

    /// <summary>kubectl cordon / uncordon: strategic merge, {"spec":{"unschedulable":true}} or {"spec":{"unschedulable":null}}.</summary>
    private (int, JsonNode) PatchNode(ApiRequest r, FakeNode node)
    {
        var body = r.ContentType == "application/strategic-merge-patch+json" && r.Query.Length == 0 ? r.Body : null;
        if (body == """{"spec":{"unschedulable":true}}""")
        {
            node.Unschedulable = true;
        }
        else if (body == """{"spec":{"unschedulable":null}}""")
        {
            node.Unschedulable = false;
        }
        else
        {
            return Refuse(r, "a cordon is {\"spec\":{\"unschedulable\":true}}, an uncordon {\"spec\":{\"unschedulable\":null}}, as strategic merge patches");
        }

        return (200, node.ToJson());
    }

    private (int, JsonNode) Refuse(ApiRequest r, string shape)
    {
        _violations.Add($"{r}: {shape}");
        return (400, Status(400, "BadRequest", $"not the request kubectl sends: {shape}"));
    }

    private static JsonObject Status(int code, string reason, string message) => new()
    {
        ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Failure", ["message"] = message, ["reason"] = reason, ["code"] = code,
    };

    [GeneratedRegex("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$")]
    private static partial Regex RestartedAt();
}

/// <summary>A Deployment or StatefulSet of the fake cluster.</summary>
public sealed class FakeWorkload(string name, WorkloadKind kind, int replicas)
{
    public string Name { get; } = name;
    public WorkloadKind Kind { get; } = kind;
    public string Uid { get; } = Guid.NewGuid().ToString();
    public int Replicas { get; set; } = replicas;
    public long Generation { get; set; } = 1;
    public long ObservedGeneration { get; set; } = 1;
    public int Ready { get; set; }
    public bool Paused { get; set; }

    /// <summary>Its pods crash-loop until its template changes (a restart clears it).</summary>
    public bool Stuck { get; set; }

    /// <summary>Its crashing containers were killed for memory.</summary>
    public bool OomKilled { get; set; }

    public JsonObject Template { get; set; } = new();
    public JsonObject Annotations { get; set; } = new();

    /// <summary>Its revisions, oldest first: (number, template).</summary>
    public List<(long Revision, JsonObject Template)> History { get; } = [];

    public long Revision => History.Count == 0 ? 0 : History.Max(h => h.Revision);

    public string Image => Template["spec"]!["containers"]![0]!["image"]!.GetValue<string>();

    public string? RestartedAt => Template["metadata"]?["annotations"]?[Workload.RestartedAtAnnotation]?.GetValue<string>();

    public string Hash() => HashOf(Template);

    public static string HashOf(JsonObject template) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(template.ToJsonString())))[..10].ToLowerInvariant();

    /// <summary>The template became a revision (the newest), as the controllers number them.</summary>
    public void Remember()
    {
        var next = Revision + 1;
        History.RemoveAll(h => JsonNode.DeepEquals(h.Template, Template));
        History.Add((next, (JsonObject)Template.DeepClone()));
        if (Kind == WorkloadKind.Deployment)
        {
            Annotations[RolloutUndoAction.RevisionAnnotation] = next.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>The spec changed: a new generation, and the template a new (or renumbered) revision.</summary>
    public void Changed()
    {
        Generation++;
        Remember();
    }

    public JsonObject ToJson(string ns)
    {
        var spec = new JsonObject
        {
            ["replicas"] = Replicas,
            ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["app"] = Name } },
            ["template"] = Template.DeepClone(),
        };
        if (Paused)
        {
            spec["paused"] = true;
        }

        var status = new JsonObject
        {
            ["observedGeneration"] = ObservedGeneration, ["replicas"] = Replicas, ["readyReplicas"] = Ready,
            ["availableReplicas"] = Ready, ["updatedReplicas"] = Replicas,
        };
        if (Kind == WorkloadKind.StatefulSet)
        {
            status["currentRevision"] = $"{Name}-{Hash()}";
            status["updateRevision"] = $"{Name}-{Hash()}";
        }

        return new JsonObject
        {
            ["apiVersion"] = "apps/v1", ["kind"] = Kind.ToString(),
            ["metadata"] = new JsonObject { ["name"] = Name, ["namespace"] = ns, ["uid"] = Uid, ["generation"] = Generation, ["annotations"] = Annotations.DeepClone() },
            ["spec"] = spec,
            ["status"] = status,
        };
    }
}

/// <summary>A node of the fake cluster.</summary>
public sealed class FakeNode(string name)
{
    public string Name { get; } = name;
    public bool Unschedulable { get; set; }
    public bool Ready { get; set; } = true;

    public JsonObject ToJson()
    {
        var spec = new JsonObject();
        if (Unschedulable)
        {
            spec["unschedulable"] = true;
        }

        return new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Node",
            ["metadata"] = new JsonObject { ["name"] = Name, ["uid"] = $"{Name}-uid" },
            ["spec"] = spec,
            ["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = Ready ? "True" : "False" }) },
        };
    }
}
