using System.Text.Json.Nodes;
using Grace.Engine.Adapters.Kubernetes;
using Grace.Engine.Capture;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Grace.Tests.Adapters.Kubernetes;

/// <summary>
/// The Kubernetes adapter against the loopback API server (<see cref="FakeKubernetesApi"/>), which
/// refuses any change not shaped as kubectl sends it: probes, the transient-fault rule, what an
/// approval holds for, the scale rollback, and the event watcher turning warning events into signals.
/// </summary>
public sealed class KubernetesAdapterTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private readonly KubernetesApi _api = new();
    private FakeKubernetesApi _cluster = null!;

    public async Task InitializeAsync() => _cluster = await FakeKubernetesApi.StartAsync();

    public async Task DisposeAsync()
    {
        Assert.True(_cluster.Violations.Count == 0, "Requests not shaped as kubectl sends them:\n" + string.Join("\n", _cluster.Violations));
        _api.Dispose();
        await _cluster.DisposeAsync();
        _folder.Dispose();
    }

    private ResolvedTarget Target(string? workload = "Deployment/orders", Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>(extra ?? []);
        if (workload is not null)
        {
            settings["Workload"] = workload;
        }

        return FakeKubernetesApi.Target(_folder, _cluster.WriteKubeconfig(_folder), "orders", settings);
    }

    private static Task<double> ReadAsync(IProbe probe, ResolvedTarget target, Dictionary<string, string>? parameters = null) =>
        probe.ReadAsync(new ProbeRequest(target, parameters ?? [], null), default);

    private static ActionRequest Request(ResolvedTarget target, Dictionary<string, string>? parameters = null) => new(Guid.NewGuid(), target, parameters ?? []);

    private string FirstPod(string app = "orders") => _cluster.Pods.Keys.Where(k => k.StartsWith(app + "-", StringComparison.Ordinal)).Order(StringComparer.Ordinal).First();

    // ---- probes ----

    [Fact]
    public async Task Ready_and_available_replicas_and_pods_not_running_follow_the_pods()
    {
        _cluster.AddDeployment("orders", 3, "orders:1");
        var target = Target();
        Assert.Equal(3, await ReadAsync(new ReadyReplicasProbe(_api), target));
        Assert.Equal(3, await ReadAsync(new AvailableReplicasProbe(_api), target));
        Assert.Equal(0, await ReadAsync(new PodsNotRunningProbe(_api), target));

        // One pod crash-loops: its phase stays Running, its container waits in CrashLoopBackOff.
        _cluster.Update(() => _cluster.PoisonedPods.Add(FirstPod()));
        Assert.Equal(2, await ReadAsync(new ReadyReplicasProbe(_api), target));
        Assert.Equal(2, await ReadAsync(new AvailableReplicasProbe(_api), target));
        Assert.Equal(1, await ReadAsync(new PodsNotRunningProbe(_api), target));

        // A selector-only target counts its ready pods; it has no workload status to read.
        var pods = Target(workload: null, extra: new() { ["Selector"] = "app=orders" });
        Assert.Equal(2, await ReadAsync(new ReadyReplicasProbe(_api), pods));
        Assert.Equal(1, await ReadAsync(new PodsNotRunningProbe(_api), pods));
        Assert.Contains("names only a Selector", Assert.Single(new AvailableReplicasProbe(_api).ValidateTarget("orders", pods)));
        Assert.Contains("names only a Selector", Assert.Single(new RolloutProgressProbe(_api).ValidateTarget("orders", pods)));
        Assert.Empty(new ReadyReplicasProbe(_api).ValidateTarget("orders", pods));

        // The list asks the API server for the workload's own selector, as kubectl get pods -l does.
        Assert.Contains(_cluster.Requests, r => r.Method == "GET" && r.Path == $"/api/v1/namespaces/{FakeKubernetesApi.Namespace}/pods" && r.Query.Contains("labelSelector=app%3Dorders", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pending_pod_counts_as_not_running()
    {
        _cluster.AddDeployment("orders", 2, "orders:1");
        _cluster.Pods[FirstPod()]["status"] = new JsonObject
        {
            ["phase"] = "Pending",
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "PodScheduled", ["status"] = "False", ["reason"] = "Unschedulable" }),
        };
        Assert.Equal(1, await ReadAsync(new PodsNotRunningProbe(_api), Target()));
    }

    [Fact]
    public async Task Rollout_progress_is_zero_until_the_controller_saw_the_spec_then_the_share_updated_and_available()
    {
        var orders = _cluster.AddDeployment("orders", 3, "orders:1");
        var target = Target();
        var progress = new RolloutProgressProbe(_api);
        Assert.Equal(100, await ReadAsync(progress, target));

        _cluster.Update(() => _cluster.PoisonedPods.Add(FirstPod()));
        Assert.Equal(66, await ReadAsync(progress, target)); // 2 of 3 updated and available

        orders.Generation++; // a new spec the controller has not observed yet
        Assert.Equal(0, await ReadAsync(progress, target));

        _cluster.AddStatefulSet("ledger", 2, "ledger:1");
        Assert.Equal(100, await ReadAsync(progress, Target("StatefulSet/ledger")));
    }

    [Fact]
    public void Rollout_progress_stays_below_100_while_old_replicas_remain_or_a_statefulset_revision_is_not_current()
    {
        var template = new k8s.Models.V1PodTemplateSpec();
        var selector = LabelSelector.From(new k8s.Models.V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "orders" } });
        Workload Of(WorkloadKind kind, int desired, int replicas, int ready, int available, int updated, string? current = null, string? update = null) =>
            new(new WorkloadRef(kind, "orders"), "uid", 2, 2, desired, replicas, ready, available, updated, false, selector, template, new Dictionary<string, string>(), current, update);

        Assert.Equal(100, Of(WorkloadKind.Deployment, 3, 3, 3, 3, 3).Progress());
        Assert.Equal(99, Of(WorkloadKind.Deployment, 3, 4, 3, 3, 3).Progress()); // an old replica is still there
        Assert.Equal(33, Of(WorkloadKind.Deployment, 3, 4, 3, 3, 1).Progress());
        Assert.Equal(100, Of(WorkloadKind.Deployment, 0, 0, 0, 0, 0).Progress());
        Assert.Equal(0, Of(WorkloadKind.Deployment, 0, 2, 2, 2, 0).Progress()); // scaled to zero, pods still going
        Assert.Equal(99, Of(WorkloadKind.StatefulSet, 2, 2, 2, 2, 2, "ledger-a", "ledger-b").Progress());
        Assert.Equal(100, Of(WorkloadKind.StatefulSet, 2, 2, 2, 2, 2, "ledger-b", "ledger-b").Progress());
    }

    [Fact]
    public async Task Pod_restarts_count_only_what_happened_within_the_window()
    {
        _cluster.AddDeployment("orders", 2, "orders:1");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var probe = new PodRestartsProbe(_api, clock);
        var target = Target();
        var window = new Dictionary<string, string> { ["WindowSeconds"] = "600" };
        Assert.Empty(probe.ValidateParameters(window));
        Assert.NotEmpty(probe.ValidateParameters(new Dictionary<string, string> { ["WindowSeconds"] = "5" }));

        Assert.Equal(0, await ReadAsync(probe, target, window)); // the pods are an hour old, nothing restarted

        clock.Advance(TimeSpan.FromMinutes(1));
        _cluster.Update(() => _cluster.PoisonedPods.Add(FirstPod())); // its container restarts 5 times
        Assert.Equal(5, await ReadAsync(probe, target, window));

        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(5, await ReadAsync(probe, target, window)); // still within the 10 minutes

        clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(0, await ReadAsync(probe, target, window)); // the restarts are older than the window now
    }

    // ---- the transient-fault rule ----

    public static TheoryData<int, bool> Statuses => new()
    {
        { 429, true }, { 500, true }, { 502, true }, { 503, true }, { 504, true },
        { 400, false }, { 401, false }, { 403, false }, { 404, false }, { 409, false }, { 422, false },
    };

    [Theory]
    [MemberData(nameof(Statuses))]
    public async Task An_answer_of_429_or_5xx_is_transient_and_a_4xx_refusal_is_not(int status, bool transient)
    {
        _cluster.AddDeployment("orders", 1, "orders:1");
        var kind = new KubernetesKind(new PathResolver(new TestHostEnvironment(_folder.Path)));
        _cluster.FailNext(status, $"the server says {status}");
        var failure = await Record.ExceptionAsync(() => ReadAsync(new ReadyReplicasProbe(_api), Target()));
        Assert.NotNull(failure);
        Assert.Equal(transient, kind.IsTransient(failure));
        Assert.Equal(transient, failure is KubernetesApiException);
        Assert.Equal(!transient, failure is ActionRefusedException);
        Assert.Contains($"GET deployment shop/orders: the API server answered {status}", failure.Message);
        Assert.Contains($"the server says {status}", failure.Message);
        Assert.DoesNotContain(_cluster.Token, failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_too_slow_and_a_server_that_is_down_are_transient_and_say_so()
    {
        _cluster.AddDeployment("orders", 1, "orders:1");
        var kind = new KubernetesKind(new PathResolver(new TestHostEnvironment(_folder.Path)));
        _cluster.Delay = TimeSpan.FromSeconds(5);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var slow = await Assert.ThrowsAsync<KubernetesApiException>(() => ReadAsync(new ReadyReplicasProbe(_api), Target(extra: new() { ["RequestTimeoutSeconds"] = "1" })));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"took {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Contains("did not answer within 1 s", slow.Message);
        Assert.True(kind.IsTransient(slow));

        var down = FakeKubernetesApi.Target(_folder, _cluster.WriteKubeconfig(_folder, "down", TestCatalog.FreeLoopbackPort()), "orders", new() { ["Workload"] = "Deployment/orders" });
        var refused = await Assert.ThrowsAsync<KubernetesApiException>(() => ReadAsync(new ReadyReplicasProbe(_api), down));
        Assert.Contains("cannot be reached", refused.Message);
        Assert.True(kind.IsTransient(refused));
        Assert.False(kind.IsTransient(new ActionRefusedException("no")));
        Assert.False(kind.IsTransient(new InvalidOperationException("no")));
    }

    [Fact]
    public async Task A_workload_that_is_not_there_is_a_refusal_naming_target_and_cluster()
    {
        var failure = await Assert.ThrowsAsync<ActionRefusedException>(() => ReadAsync(new ReadyReplicasProbe(_api), Target("Deployment/missing")));
        Assert.Contains("answered 404", failure.Message);
        Assert.Contains("deployments.apps \"missing\" not found", failure.Message);
        Assert.Contains($"is Deployment/missing in namespace shop right, on the cluster at {_cluster.Url.GetLeftPart(UriPartial.Authority)}", failure.Message);
    }

    // ---- scale: the snapshot count, the rollback to it, what an approval holds for ----

    [Fact]
    public async Task Scale_sets_the_count_and_the_rollback_puts_back_the_snapshot_count()
    {
        var orders = _cluster.AddDeployment("orders", 3, "orders:1");
        var scale = new ScaleAction(_api);
        var request = Request(Target(), new() { ["Add"] = "2" });
        var snapshot = await scale.SnapshotAsync(request, default);
        Assert.Equal("3 replicas wanted", snapshot.ApprovedAgainst);

        Assert.Contains("from 3 to 5 replicas", (await scale.ExecuteAsync(request, snapshot, default)).Message);
        Assert.Equal(5, orders.Replicas);
        Assert.Contains("back from 5 to 3 replicas", await scale.RollbackAsync(request, snapshot, default));
        Assert.Equal(3, orders.Replicas);
        Assert.Equal(["""{"spec":{"replicas":5}}""", """{"spec":{"replicas":3}}"""], _cluster.Changes.Select(c => c.Body));
        Assert.All(_cluster.Changes, c => Assert.Equal(("PATCH", "/apis/apps/v1/namespaces/shop/deployments/orders/scale", "application/merge-patch+json"), (c.Method, c.Path, c.ContentType)));
    }

    [Fact]
    public async Task Scale_rollback_leaves_a_count_someone_else_set_since()
    {
        var orders = _cluster.AddDeployment("orders", 3, "orders:1");
        var scale = new ScaleAction(_api);
        var request = Request(Target(), new() { ["Replicas"] = "6" });
        var snapshot = await scale.SnapshotAsync(request, default);
        await scale.ExecuteAsync(request, snapshot, default);
        _cluster.Update(() => orders.Replicas = 9); // an autoscaler, or a person

        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => scale.RollbackAsync(request, snapshot, default));
        Assert.Contains("now wants 9 replicas, set by someone else after Grace set 6", refused.Message);
        Assert.Equal(9, orders.Replicas);
        Assert.Single(_cluster.Changes);
    }

    [Fact]
    public async Task Scale_is_refused_for_a_workload_a_HorizontalPodAutoscaler_sizes()
    {
        var orders = _cluster.AddDeployment("orders", 3, "orders:1");
        _cluster.AddStatefulSet("ledger", 1, "ledger:1");
        _cluster.Autoscalers["ledger-hpa"] = ("StatefulSet", "ledger", 1, 4); // another workload's: no matter
        _cluster.Autoscalers["orders-hpa"] = ("Deployment", "orders", 2, 10);
        var scale = new ScaleAction(_api);
        var request = Request(Target(), new() { ["Add"] = "2" });
        var refused = await Assert.ThrowsAsync<ActionRefusedException>(async () => await scale.ExecuteAsync(request, await scale.SnapshotAsync(request, default), default));
        Assert.Equal("Deployment/orders is scaled by the HorizontalPodAutoscaler orders-hpa (2 to 10 replicas), which would undo Grace's count; change its minReplicas or maxReplicas instead.", refused.Message);
        Assert.Equal(3, orders.Replicas);
        Assert.Empty(_cluster.Changes);

        var ledger = Request(Target("StatefulSet/ledger"), new() { ["Replicas"] = "2" });
        await Assert.ThrowsAsync<ActionRefusedException>(async () => await scale.ExecuteAsync(ledger, await scale.SnapshotAsync(ledger, default), default));
        _cluster.Autoscalers.Remove("ledger-hpa");
        await scale.ExecuteAsync(ledger, await scale.SnapshotAsync(ledger, default), default);
        Assert.Equal(2, _cluster.StatefulSets["ledger"].Replicas);
    }

    [Fact]
    public async Task Scale_of_a_statefulset_uses_its_scale_subresource_and_never_passes_MaxReplicas()
    {
        var ledger = _cluster.AddStatefulSet("ledger", 2, "ledger:1");
        var scale = new ScaleAction(_api);
        var request = Request(Target("StatefulSet/ledger"), new() { ["Add"] = "1" });
        await scale.ExecuteAsync(request, await scale.SnapshotAsync(request, default), default);
        Assert.Equal(3, ledger.Replicas);
        Assert.Equal("/apis/apps/v1/namespaces/shop/statefulsets/ledger/scale", Assert.Single(_cluster.Changes).Path);

        var tooMany = Request(Target("StatefulSet/ledger"), new() { ["Add"] = "3", ["MaxReplicas"] = "5" });
        var refused = await Assert.ThrowsAsync<ActionRefusedException>(async () => await scale.ExecuteAsync(tooMany, await scale.SnapshotAsync(tooMany, default), default));
        Assert.Contains("would make 6 replicas, outside 0..5 (MaxReplicas)", refused.Message);
        Assert.Equal(3, ledger.Replicas);

        Assert.Contains(scale.ValidateParameters(new Dictionary<string, string> { ["Replicas"] = "2", ["Add"] = "1" }), e => e.Contains("not both", StringComparison.Ordinal));
        Assert.Contains(scale.ValidateParameters(new Dictionary<string, string>()), e => e.Contains("not neither", StringComparison.Ordinal));
        Assert.Contains(scale.ValidateParameters(new Dictionary<string, string> { ["Replicas"] = "50" }), e => e.Contains("MaxReplicas (20)", StringComparison.Ordinal));
        Assert.Contains(scale.ValidateParameters(new Dictionary<string, string> { ["Add"] = "0" }), e => e.Contains("must not be 0", StringComparison.Ordinal));
    }

    /// <summary>For every action that can wait for approval: what changes its drift key, and how the change is told.</summary>
    [Fact]
    public async Task An_approval_holds_for_the_state_each_action_depends_on_and_the_change_is_told_in_words()
    {
        var orders = _cluster.AddDeployment("orders", 3, "orders:1", "orders:2");
        _cluster.AddNode("node-1");
        _cluster.AddNode("node-2");
        var target = Target();

        async Task<string> DriftAsync(IRemediationExecutor action, Dictionary<string, string> parameters, Action change)
        {
            var request = Request(target, parameters);
            var approved = await action.SnapshotAsync(request, default);
            Assert.Equal(approved.DriftKey, (await action.SnapshotAsync(request, default)).DriftKey);
            _cluster.Update(change);
            var now = await action.SnapshotAsync(request, default);
            Assert.NotEqual(approved.DriftKey, now.DriftKey);
            return action.DescribeDrift(approved, now);
        }

        Assert.Equal("the replica count changed from 3 to 4 since the approval",
            await DriftAsync(new ScaleAction(_api), new() { ["Replicas"] = "5" }, () => orders.Replicas = 4));
        Assert.Equal("the workload changed since the approval: generation 1, last restarted never → generation 2, last restarted 2026-01-02T03:04:05Z",
            await DriftAsync(new RolloutRestartAction(_api, TimeProvider.System), [], () =>
            {
                orders.Template["metadata"]!["annotations"] = new JsonObject { [Workload.RestartedAtAnnotation] = "2026-01-02T03:04:05Z" };
                orders.Changed();
            }));
        Assert.Equal("the rollout history changed since the approval: at revision 3, previous 2 → at revision 4, previous 3",
            await DriftAsync(new RolloutUndoAction(_api), [], () =>
            {
                orders.Template = (JsonObject)orders.Template.DeepClone();
                orders.Template["spec"]!["containers"]![0]!["image"] = "orders:3";
                orders.Changed();
            }));
        var pod = FirstPod();
        Assert.StartsWith("the crash-looping pods changed since the approval:",
            await DriftAsync(new DeleteCrashLoopingPodsAction(_api), [], () => _cluster.PoisonedPods.Add(pod)));
        Assert.Equal("the node changed since the approval: node-1 schedulable → node-1 cordoned (unschedulable)",
            await DriftAsync(new CordonNodeAction(_api), new() { ["Node"] = "node-1" }, () => _cluster.Nodes["node-1"].Unschedulable = true));
    }

    // ---- undo, restart and cordon: their refusals and their StatefulSet and default-node paths ----

    [Fact]
    public async Task Undo_of_a_statefulset_sends_its_previous_revision_and_the_rollback_sends_the_template_back()
    {
        var ledger = _cluster.AddStatefulSet("ledger", 2, "ledger:1", "orders:broken");
        var undo = new RolloutUndoAction(_api);
        var request = Request(Target("StatefulSet/ledger"));
        var snapshot = await undo.SnapshotAsync(request, default);
        Assert.Equal("at revision 2, previous 1", snapshot.ApprovedAgainst);
        Assert.Contains("back from revision 2 (orders:broken) to revision 1 (ledger:1)", (await undo.ExecuteAsync(request, snapshot, default)).Message);
        Assert.Equal(("ledger:1", 2), (ledger.Image, ledger.Ready));
        Assert.Contains("orders:broken", await undo.RollbackAsync(request, snapshot, default));
        Assert.Equal("orders:broken", ledger.Image);
        Assert.All(_cluster.Changes, c => Assert.Equal(("PATCH", "/apis/apps/v1/namespaces/shop/statefulsets/ledger", "application/strategic-merge-patch+json"), (c.Method, c.Path, c.ContentType)));
        Assert.Equal(2, _cluster.Changes.Count);
    }

    [Fact]
    public async Task Undo_without_an_earlier_revision_and_restart_or_undo_of_a_paused_deployment_are_refused()
    {
        _cluster.AddDeployment("orders", 2, "orders:1");
        var undo = new RolloutUndoAction(_api);
        var request = Request(Target());
        var only = await Assert.ThrowsAsync<ActionRefusedException>(async () => await undo.ExecuteAsync(request, await undo.SnapshotAsync(request, default), default));
        Assert.Contains("has no earlier revision to go back to", only.Message);

        _cluster.AddDeployment("paused", 2, "paused:1", "paused:2").Paused = true;
        var paused = Request(Target("Deployment/paused"));
        var restart = new RolloutRestartAction(_api, TimeProvider.System);
        Assert.Contains("is paused", (await Assert.ThrowsAsync<ActionRefusedException>(async () => await restart.ExecuteAsync(paused, await restart.SnapshotAsync(paused, default), default))).Message);
        Assert.Contains("is paused", (await Assert.ThrowsAsync<ActionRefusedException>(async () => await undo.ExecuteAsync(paused, await undo.SnapshotAsync(paused, default), default))).Message);
        Assert.Empty(_cluster.Changes);
    }

    [Fact]
    public async Task Cordon_without_a_node_picks_the_one_node_of_the_failing_pods_and_refuses_when_they_are_spread_or_too_few_nodes_remain()
    {
        _cluster.AddNode("node-a");
        _cluster.AddNode("node-b");
        _cluster.AddDeployment("orders", 3, "orders:1");
        var pods = _cluster.Pods.Keys.Order(StringComparer.Ordinal).ToList();
        _cluster.Update(() => { _cluster.PoisonedPods.Add(pods[0]); _cluster.PoisonedPods.Add(pods[1]); });
        var cordon = new CordonNodeAction(_api);
        var request = Request(Target());

        // Both failing pods on node-a: that node is cordoned.
        var snapshot = await cordon.SnapshotAsync(request, default);
        Assert.Equal("node-a schedulable", snapshot.ApprovedAgainst);
        Assert.Contains("Cordoned node node-a", (await cordon.ExecuteAsync(request, snapshot, default)).Message);
        Assert.True(_cluster.Nodes["node-a"].Unschedulable);
        await cordon.RollbackAsync(request, snapshot, default);
        Assert.False(_cluster.Nodes["node-a"].Unschedulable);

        // One failing pod on each node: not one node's fault.
        _cluster.Pods[pods[1]]["spec"]!["nodeName"] = "node-b";
        var spread = await Assert.ThrowsAsync<ActionRefusedException>(() => cordon.SnapshotAsync(request, default));
        Assert.Contains("are on 2 nodes (", spread.Message);
        Assert.Contains("): not one node's fault, so none is cordoned", spread.Message);

        // The only other node is not ready: cordoning node-a would leave none.
        _cluster.Nodes["node-b"].Ready = false;
        var named = Request(Target(), new() { ["Node"] = "node-a" });
        var few = await Assert.ThrowsAsync<ActionRefusedException>(async () => await cordon.ExecuteAsync(named, await cordon.SnapshotAsync(named, default), default));
        Assert.Contains("would leave 0 other ready, schedulable node(s), fewer than MinSchedulableNodes (1)", few.Message);
        Assert.False(_cluster.Nodes["node-a"].Unschedulable);
        Assert.Equal(2, _cluster.Changes.Count); // the cordon and its rollback, nothing since
    }

    // ---- the event watcher ----

    private sealed class RecordingSink : ISignalSink
    {
        private readonly List<Signal> _signals = [];

        public IReadOnlyList<Signal> Signals { get { lock (_signals) { return [.. _signals]; } } }

        public bool TryWrite(Signal signal)
        {
            lock (_signals)
            {
                _signals.Add(signal);
            }

            return true;
        }
    }

    private KubernetesEventWatcher Watcher(RecordingSink sink) =>
        new(null!, _api, sink, Options.Create(new KubernetesOptions { ReconnectDelaySeconds = 0.05, MaxReconnectDelaySeconds = 0.2 }), TimeProvider.System, NullLogger<KubernetesEventWatcher>.Instance);

    private static async Task WaitForAsync(Func<bool> condition, string what, int seconds = 10)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(seconds); !condition(); await Task.Delay(50))
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
        }
    }

    [Fact]
    public async Task Warning_events_of_the_targets_pods_become_signals_labelled_with_their_reason()
    {
        var orders = _cluster.AddDeployment("orders", 2, "orders:1");
        _cluster.AddDeployment("billing", 1, "billing:1");
        var sink = new RecordingSink();
        using var stop = new CancellationTokenSource();
        var watching = Watcher(sink).WatchAsync(Target(), stop.Token);
        await WaitForAsync(() => _cluster.OpenWatches == 1, "the watch to open");
        var watch = Assert.Single(_cluster.WatchRequests);
        Assert.Contains("fieldSelector=involvedObject.kind%3DPod%2Ctype%3DWarning", watch.Query);
        Assert.Contains("resourceVersion=", watch.Query);

        var looping = FirstPod();
        _cluster.Update(() => _cluster.PoisonedPods.Add(looping));
        _cluster.Emit("ADDED", "BackOff", looping, "Back-off restarting failed container app in pod " + looping);
        _cluster.Emit("ADDED", "BackOff", FirstPod("billing"), "another workload's pod: not this target's business");
        _cluster.Emit("ADDED", "Unhealthy", looping, "Readiness probe failed: not a reason Grace acts on");
        await WaitForAsync(() => sink.Signals.Count >= 1, "the crash loop signal");

        _cluster.Pods[FirstPod()]["status"] = new JsonObject { ["phase"] = "Pending" };
        _cluster.Emit("ADDED", "FailedScheduling", FirstPod(), "0/3 nodes are available: 3 Insufficient memory.");
        await WaitForAsync(() => sink.Signals.Count >= 2, "the scheduling signal");

        _cluster.Update(() => { orders.Stuck = true; orders.OomKilled = true; });
        var oom = FirstPod();
        _cluster.Emit("MODIFIED", "BackOff", oom, "Back-off restarting failed container app");
        await WaitForAsync(() => sink.Signals.Count >= 3, "the OOM signal");

        await stop.CancelAsync();
        await watching;

        var signals = sink.Signals;
        Assert.Equal(3, signals.Count);
        Assert.All(signals, s => Assert.Equal(("kubernetes:orders", "orders", Grace.Data.Entities.Severity.Error), (s.Source, s.Target, s.Severity)));
        Assert.Equal(["CrashLoopBackOff", "FailedScheduling", "OOMKilled"], signals.Select(s => s.Labels!["reason"]));
        Assert.Equal(looping, signals[0].Labels!["pod"]);
        Assert.Equal("Deployment/orders", signals[0].Labels!["workload"]);
        Assert.Equal("shop", signals[0].Labels!["namespace"]);
        Assert.Equal("Kubernetes CrashLoopBackOff in orders", signals[0].MessageTemplate);
        Assert.Contains("Back-off restarting failed container", signals[0].Message);
        Assert.Contains("3 Insufficient memory", signals[1].Message);
        Assert.Equal("app", signals[2].Labels!["container"]);
        Assert.DoesNotContain(signals, s => s.Message.Contains("billing", StringComparison.Ordinal) || s.Message.Contains("Readiness", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_watch_the_server_ends_is_reopened_from_the_last_version_and_an_expired_one_lists_again()
    {
        _cluster.AddDeployment("orders", 1, "orders:1");
        var sink = new RecordingSink();
        using var stop = new CancellationTokenSource();
        var watching = Watcher(sink).WatchAsync(Target(), stop.Token);
        await WaitForAsync(() => _cluster.OpenWatches == 1, "the watch to open");
        int Lists() => _cluster.Requests.Count(r => r.Method == "GET" && r.Path.EndsWith("/events", StringComparison.Ordinal) && !r.Query.Contains("watch=true", StringComparison.Ordinal));
        Assert.Equal(1, Lists());

        // An event Grace does not act on still moves the watch on: its resource version is kept.
        _cluster.Emit("ADDED", "Pulled", FirstPod(), "Successfully pulled image: not trouble");
        await Task.Delay(300);
        Assert.DoesNotContain(_cluster.Requests, r => r.Path.Contains("/pods/", StringComparison.Ordinal));
        var last = _cluster.Requests.Count;
        _cluster.EndWatches();
        await WaitForAsync(() => _cluster.OpenWatches == 1 && _cluster.WatchRequests.Count == 2, "the watch to reopen");
        Assert.Equal(1, Lists()); // resumed, not listed again
        Assert.Matches("resourceVersion=10[1-9]", _cluster.WatchRequests[1].Query);

        // The version expired: the server says so in an ERROR line (the stream is left open here, to
        // show the watcher does not wait for it to close), and the watcher lists again.
        _cluster.EmitRaw("""{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 101 (250)","reason":"Expired","code":410}}""");
        await WaitForAsync(() => Lists() == 2 && _cluster.OpenWatches == 1, "the list and watch after 410 Gone");

        // Still reporting after both.
        _cluster.Update(() => _cluster.PoisonedPods.Add(FirstPod()));
        _cluster.Emit("ADDED", "BackOff", FirstPod(), "Back-off restarting failed container app");
        await WaitForAsync(() => sink.Signals.Count == 1, "a signal after the reconnects");
        Assert.True(_cluster.Requests.Count > last);
        await stop.CancelAsync();
        await watching;
    }

    [Fact]
    public async Task A_watch_that_fails_is_retried_with_a_backoff_rather_than_spun()
    {
        _cluster.AddDeployment("orders", 1, "orders:1");
        _cluster.FailNext(503, "the API server is restarting", times: 3);
        var sink = new RecordingSink();
        using var stop = new CancellationTokenSource();
        var watching = Watcher(sink).WatchAsync(Target(), stop.Token);
        await WaitForAsync(() => _cluster.OpenWatches == 1, "the watch to open after the failures");
        Assert.InRange(_cluster.Requests.Count, 4, 6);
        await stop.CancelAsync();
        await watching;
    }
}
