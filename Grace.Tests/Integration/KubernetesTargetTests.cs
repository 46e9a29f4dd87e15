using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Tests.Adapters.Kubernetes;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Actor = Grace.Engine.Missions.Actor;

namespace Grace.Tests.Integration;

/// <summary>
/// Kubernetes targets through the real host, against the loopback API server that refuses any
/// change not shaped as kubectl sends it: a pod's warning events become signals, incidents and a
/// mission that heals them; an approval is void once the replica count moved; a health check reads
/// the ready replicas; an API server that does not answer fails the mission in bounded time; and a
/// configuration mistake stops the start naming the key.
/// </summary>
public sealed class KubernetesTargetTests : SqliteDatabaseTest, IAsyncLifetime
{
    private FakeKubernetesApi _cluster = null!;

    async Task IAsyncLifetime.InitializeAsync()
    {
        await InitializeAsync();
        _cluster = await FakeKubernetesApi.StartAsync();
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        var violations = _cluster.Violations;
        await _cluster.DisposeAsync();
        await DisposeAsync();
        Assert.True(violations.Count == 0, "Requests not shaped as kubectl sends them:\n" + string.Join("\n", violations));
    }

    private GraceHost Host(Dictionary<string, string?> extra, int? port = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Grace:Targets:orders:Kind"] = "Kubernetes",
            ["Grace:Targets:orders:Kubeconfig"] = _cluster.WriteKubeconfig(Folder, port: port),
            ["Grace:Targets:orders:Workload"] = "Deployment/orders",
            ["Grace:Kubernetes:ReconnectDelaySeconds"] = "0.1",
            ["Grace:Kubernetes:MaxReconnectDelaySeconds"] = "1",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(settings)).Start();
    }

    private static Dictionary<string, string?> Playbook(string key, string action, int tier, string probe, string comparator, string threshold, Dictionary<string, string>? parameters = null)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Grace:Playbooks:{key}:Action"] = action,
            [$"Grace:Playbooks:{key}:Target"] = "orders",
            [$"Grace:Playbooks:{key}:Tier"] = tier.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [$"Grace:Playbooks:{key}:Contract:Probe"] = probe,
            [$"Grace:Playbooks:{key}:Contract:Comparator"] = comparator,
            [$"Grace:Playbooks:{key}:Contract:Threshold"] = threshold,
            [$"Grace:Playbooks:{key}:Contract:DeadlineSeconds"] = "20",
        };
        foreach (var (name, value) in parameters ?? [])
        {
            settings[$"Grace:Playbooks:{key}:Parameters:{name}"] = value;
        }

        return settings;
    }

    private async Task WaitForWatchAsync()
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(20); _cluster.OpenWatches == 0; await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, "the event watcher did not open its watch");
        }
    }

    private static string Timeline(Mission mission) => string.Join("\n", mission.Events.OrderBy(e => e.Id).Select(e => $"{e.Kind}: {e.Message}"));

    [Fact]
    public async Task Crash_loop_scheduling_and_memory_events_become_incidents_and_the_crash_loop_is_healed_end_to_end()
    {
        var orders = _cluster.AddDeployment("orders", 3, "orders:1");
        var poisoned = _cluster.Pods.Keys.Order(StringComparer.Ordinal).First();
        _cluster.Update(() => _cluster.PoisonedPods.Add(poisoned));
        var settings = Playbook("delete-crashlooping", "kubernetes.delete-crashlooping-pods", 0, "kubernetes.pods-not-running", "Equal", "0");
        settings["Grace:Patterns:orders-crashloop:Source"] = "kubernetes:orders";
        settings["Grace:Patterns:orders-crashloop:Labels:reason"] = "CrashLoopBackOff";
        settings["Grace:Patterns:orders-crashloop:Playbooks:0"] = "delete-crashlooping";
        await using var host = Host(settings);
        await WaitForWatchAsync();

        _cluster.Emit("ADDED", "BackOff", poisoned, $"Back-off restarting failed container app in pod {poisoned}_shop");
        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "delete-crashlooping" && m.CompletedAt != null, "finished", 60);
        Assert.True(mission.State == MissionState.Succeeded, Timeline(mission));
        Assert.Contains(mission.Events, e => e.Kind == "executed" && e.Message.Contains($"Deleted 1 crash-looping pod(s) of Deployment/orders in namespace shop: {poisoned} (5 restarts)", StringComparison.Ordinal));
        Assert.DoesNotContain(poisoned, _cluster.Pods.Keys);
        Assert.Equal(3, orders.Ready);
        var delete = Assert.Single(_cluster.Changes);
        Assert.Equal(("DELETE", $"/api/v1/namespaces/shop/pods/{poisoned}", """{"propagationPolicy":"Background"}"""), (delete.Method, delete.Path, delete.Body));

        await using (var db = host.CreateDb())
        {
            var incident = await db.Incidents.AsNoTracking().SingleAsync(i => i.Id == mission.IncidentId);
            Assert.Equal(("kubernetes:orders", "orders", "orders-crashloop"), (incident.Source, incident.Target, incident.PatternKey));
            Assert.Contains("Kubernetes CrashLoopBackOff in orders (Deployment/orders, namespace shop)", incident.SampleMessage);
            Assert.Contains("\"reason\":\"CrashLoopBackOff\"", incident.Labels);
        }

        // The scheduler cannot place a pod: an incident, and no playbook for it here.
        var pending = _cluster.Pods.Keys.Order(StringComparer.Ordinal).First();
        _cluster.Emit("ADDED", "FailedScheduling", pending, "0/3 nodes are available: 3 Insufficient memory.");
        var scheduling = await host.WaitForIncidentAsync(i => i.Template.Contains("FailedScheduling", StringComparison.Ordinal), 20);
        Assert.Contains("3 Insufficient memory", scheduling.SampleMessage);
        Assert.Equal("kubernetes:orders", scheduling.Source);

        // The kernel killed a container for memory: its back-off is reported as OOMKilled, with the container, not as a crash loop.
        _cluster.Update(() => { orders.Stuck = true; orders.OomKilled = true; });
        _cluster.Emit("ADDED", "BackOff", _cluster.Pods.Keys.Order(StringComparer.Ordinal).First(), "Back-off restarting failed container app");
        var oom = await host.WaitForIncidentAsync(i => i.Template.Contains("OOMKilled", StringComparison.Ordinal), 20);
        Assert.Contains("\"container\":\"app\"", oom.Labels);
        Assert.Null(oom.PatternKey);
        await using var after = host.CreateDb();
        Assert.Single(await after.Missions.AsNoTracking().ToListAsync(), m => m.PlaybookKey == "delete-crashlooping");
    }

    [Fact]
    public async Task A_scale_approval_is_void_when_the_replica_count_moved_and_their_count_stays()
    {
        var orders = _cluster.AddDeployment("orders", 1, "orders:1");
        var settings = Playbook("scale-orders", "kubernetes.scale", 2, "kubernetes.available-replicas", "GreaterThanOrEqual", "3", new() { ["Replicas"] = "3" });
        settings["Grace:Patterns:orders-busy:MessageRegex"] = "orders needs capacity";
        settings["Grace:Patterns:orders-busy:Target"] = "orders";
        settings["Grace:Patterns:orders-busy:Playbooks:0"] = "scale-orders";
        await using var host = Host(settings);
        host.Get<ISignalSink>().TryWrite(new Signal("tests", "orders needs capacity", Severity.Error, DateTimeOffset.UtcNow, Target: "orders"));
        var waiting = await host.WaitForMissionAsync(m => m.PlaybookKey == "scale-orders" && m.State == MissionState.AwaitingApproval, "awaiting approval");

        _cluster.Update(() => orders.Replicas = 2); // someone scales it while the approval waits
        await host.Get<ApprovalService>().DecideAsync(waiting.Id, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default);
        var voided = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.CompletedAt != null, "ended");
        Assert.Equal(MissionState.Blocked, voided.State);
        Assert.Contains("the replica count changed from 1 to 2 since the approval", Assert.Single(voided.Events, e => e.Kind == "voided").Message);
        Assert.Equal(2, orders.Replicas);
        Assert.Empty(_cluster.Changes);
    }

    [Fact]
    public async Task A_health_check_on_the_ready_replicas_opens_an_incident_when_a_pod_is_not_ready()
    {
        _cluster.AddDeployment("orders", 3, "orders:1");
        await using var host = Host(new()
        {
            ["Grace:Targets:orders:HealthCheck:Probe"] = "kubernetes.ready-replicas",
            ["Grace:Targets:orders:HealthCheck:Comparator"] = "GreaterThanOrEqual",
            ["Grace:Targets:orders:HealthCheck:Threshold"] = "3",
            ["Grace:Targets:orders:HealthCheck:IntervalSeconds"] = "1",
        });
        _cluster.Update(() => _cluster.PoisonedPods.Add(_cluster.Pods.Keys.Order(StringComparer.Ordinal).First()));
        var incident = await host.WaitForIncidentAsync(i => i.Source == "health:orders", 30);
        Assert.Equal("orders", incident.Target);
    }

    [Fact]
    public async Task An_api_server_that_does_not_answer_fails_the_mission_with_the_reason_in_bounded_time()
    {
        _cluster.AddDeployment("orders", 1, "orders:1");
        _cluster.Delay = TimeSpan.FromSeconds(60);
        var settings = Playbook("restart-orders", "kubernetes.rollout-restart", 0, "kubernetes.ready-replicas", "GreaterThanOrEqual", "1");
        settings["Grace:Targets:orders:RequestTimeoutSeconds"] = "2";
        settings["Grace:Targets:orders:WatchEvents"] = "false";
        settings["Grace:Patterns:orders-down:MessageRegex"] = "orders is down";
        settings["Grace:Patterns:orders-down:Target"] = "orders";
        settings["Grace:Patterns:orders-down:Playbooks:0"] = "restart-orders";
        await using var host = Host(settings);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        host.Get<ISignalSink>().TryWrite(new Signal("tests", "orders is down", Severity.Critical, DateTimeOffset.UtcNow, Target: "orders"));

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "restart-orders" && m.CompletedAt != null, "finished", 90);
        Assert.True(mission.State is MissionState.Failed or MissionState.Blocked, Timeline(mission));
        Assert.Contains($"did not answer within 2 s", (mission.StatusReason ?? "") + Timeline(mission));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"took {clock.Elapsed.TotalSeconds:0} s");
        Assert.Empty(_cluster.Changes);
    }

    [Fact]
    public async Task An_api_server_that_is_down_fails_the_mission_saying_it_cannot_be_reached()
    {
        var settings = Playbook("restart-orders", "kubernetes.rollout-restart", 0, "kubernetes.ready-replicas", "GreaterThanOrEqual", "1");
        settings["Grace:Patterns:orders-down:MessageRegex"] = "orders is down";
        settings["Grace:Patterns:orders-down:Target"] = "orders";
        settings["Grace:Patterns:orders-down:Playbooks:0"] = "restart-orders";
        var port = TestCatalog.FreeLoopbackPort();
        await using var host = Host(settings, port);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        host.Get<ISignalSink>().TryWrite(new Signal("tests", "orders is down", Severity.Critical, DateTimeOffset.UtcNow, Target: "orders"));

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "restart-orders" && m.CompletedAt != null, "finished", 60);
        Assert.True(mission.State is MissionState.Failed or MissionState.Blocked, Timeline(mission));
        Assert.Contains($"the API server at http://127.0.0.1:{port}/ cannot be reached", (mission.StatusReason ?? "") + Timeline(mission));
        Assert.DoesNotContain(_cluster.Token, Timeline(mission) + mission.StatusReason, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed.TotalSeconds:0} s");
    }
}

/// <summary>Kubernetes configuration mistakes stop the start, naming the key.</summary>
public sealed class KubernetesStartupValidationTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Kubeconfig()
    {
        var path = _folder.Combine("kubeconfig");
        File.WriteAllText(path, """
            apiVersion: v1
            kind: Config
            clusters:
            - name: prod
              cluster:
                server: https://127.0.0.1:6443
            users:
            - name: grace
              user:
                token: not-a-real-token
            contexts:
            - name: prod
              context:
                cluster: prod
                user: grace
            current-context: prod
            """);
        return path;
    }

    public static TheoryData<string, string?, string> Broken => new()
    {
        { "Workload", "Pod/orders", "Grace:Targets:orders:Workload 'Pod/orders' must be Deployment/<name> or StatefulSet/<name>" },
        { "Workload", "Deployment/Orders_API", "Grace:Targets:orders:Workload 'Deployment/Orders_API' must be" },
        { "Workload", null, "Grace:Targets:orders:Workload is required for a Kubernetes target" },
        { "Selector", "app in (orders", "Grace:Targets:orders:Selector 'app in (orders' is not a label selector" },
        { "Namespace", "Shop_1", "Grace:Targets:orders:Namespace 'Shop_1' is not a namespace name" },
        { "RequestTimeoutSeconds", "0", "Grace:Targets:orders:RequestTimeoutSeconds must be between 1 and 300 (it is 0)" },
        { "Kubeconfig", "/nonexistent/kubeconfig", "Grace:Targets:orders:Kubeconfig '/nonexistent/kubeconfig' does not exist" },
        { "Context", "staging", "Grace:Targets:orders:Context 'staging' is not a context in" },
        { "InCluster", "true", "Grace:Targets:orders:InCluster: set either InCluster" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void A_configuration_mistake_stops_the_start_naming_the_key(string setting, string? value, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Grace:Targets:orders:Kind"] = "Kubernetes",
            ["Grace:Targets:orders:Kubeconfig"] = Kubeconfig(),
            ["Grace:Targets:orders:Workload"] = "Deployment/orders",
            ["Grace:Targets:orders:WatchEvents"] = "false",
        };
        settings[$"Grace:Targets:orders:{setting}"] = value;
        using var host = new GraceHost(TestCatalog.Settings(_folder).Concat(settings));
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        Assert.Contains(expected, SshTargetTests.Messages(ex), StringComparison.Ordinal);
        Assert.DoesNotContain("not-a-real-token", SshTargetTests.Messages(ex), StringComparison.Ordinal);
    }

    [Fact]
    public void In_cluster_credentials_outside_a_pod_stop_the_start_naming_the_key()
    {
        using var host = new GraceHost(TestCatalog.Settings(_folder).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:orders:Kind"] = "Kubernetes",
            ["Grace:Targets:orders:InCluster"] = "true",
            ["Grace:Targets:orders:Workload"] = "Deployment/orders",
        }));
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        Assert.Contains("Grace:Targets:orders:InCluster asks for the pod's service account, and Grace is not running in a Kubernetes pod here", SshTargetTests.Messages(ex), StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> BrokenUses => new()
    {
        { "Parameters:Replicas", "50", "Grace:Playbooks:scale-orders:Parameters:Replicas" },
        { "Parameters:MaxReplicas", "0", "Grace:Playbooks:scale-orders:Parameters:MaxReplicas" },
        { "Parameters:Replicaz", "3", "Grace:Playbooks:scale-orders:Parameters:Replicaz" },
    };

    [Theory]
    [MemberData(nameof(BrokenUses))]
    public void A_playbook_parameter_mistake_stops_the_start_naming_the_key(string setting, string value, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Grace:Targets:orders:Kind"] = "Kubernetes",
            ["Grace:Targets:orders:Kubeconfig"] = Kubeconfig(),
            ["Grace:Targets:orders:Workload"] = "Deployment/orders",
            ["Grace:Targets:orders:WatchEvents"] = "false",
            ["Grace:Playbooks:scale-orders:Action"] = "kubernetes.scale",
            ["Grace:Playbooks:scale-orders:Target"] = "orders",
            ["Grace:Playbooks:scale-orders:Parameters:Replicas"] = "3",
            ["Grace:Playbooks:scale-orders:Contract:Probe"] = "kubernetes.available-replicas",
            ["Grace:Playbooks:scale-orders:Contract:Comparator"] = "GreaterThanOrEqual",
            ["Grace:Playbooks:scale-orders:Contract:Threshold"] = "3",
        };
        settings[$"Grace:Playbooks:scale-orders:{setting}"] = value;
        using var host = new GraceHost(TestCatalog.Settings(_folder).Concat(settings));
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        Assert.Contains(expected, SshTargetTests.Messages(ex), StringComparison.Ordinal);
    }

    [Fact]
    public void A_workload_action_on_a_selector_only_target_stops_the_start()
    {
        using var host = new GraceHost(TestCatalog.Settings(_folder).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:orders:Kind"] = "Kubernetes",
            ["Grace:Targets:orders:Kubeconfig"] = Kubeconfig(),
            ["Grace:Targets:orders:Selector"] = "app=orders",
            ["Grace:Targets:orders:WatchEvents"] = "false",
            ["Grace:Playbooks:restart-orders:Action"] = "kubernetes.rollout-restart",
            ["Grace:Playbooks:restart-orders:Target"] = "orders",
            ["Grace:Playbooks:restart-orders:Contract:Probe"] = "kubernetes.ready-replicas",
            ["Grace:Playbooks:restart-orders:Contract:Comparator"] = "GreaterThanOrEqual",
            ["Grace:Playbooks:restart-orders:Contract:Threshold"] = "1",
        }));
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        Assert.Contains("kubernetes.rollout-restart acts on a workload, and Grace:Targets:orders names only a Selector", SshTargetTests.Messages(ex), StringComparison.Ordinal);
    }

    [Fact]
    public void The_shipped_demo_target_stays_unconfigured_until_its_workload_is_named()
    {
        using (var host = new GraceHost(TestCatalog.Settings(_folder)).Start())
        {
            var why = host.Get<Grace.Engine.Targets.TargetRegistry>().Unconfigured("demo-k8s");
            Assert.NotNull(why);
            Assert.Contains("Workload", why);
        }

        using var configured = new GraceHost(TestCatalog.Settings(_folder).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:demo-k8s:Kubeconfig"] = Kubeconfig(),
            ["Grace:Targets:demo-k8s:Workload"] = "Deployment/orders",
            ["Grace:Targets:demo-k8s:WatchEvents"] = "false",
        })).Start();
        Assert.Null(configured.Get<Grace.Engine.Targets.TargetRegistry>().Unconfigured("demo-k8s"));
    }

    [Fact]
    public void A_reconnect_delay_out_of_range_stops_the_start_naming_the_key()
    {
        using var host = new GraceHost(TestCatalog.Settings(_folder).Concat(new Dictionary<string, string?>
        {
            ["Grace:Kubernetes:ReconnectDelaySeconds"] = "0",
        }));
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        Assert.Contains("Grace:Kubernetes:ReconnectDelaySeconds must be between 0.01 and 600", SshTargetTests.Messages(ex), StringComparison.Ordinal);
    }
}
