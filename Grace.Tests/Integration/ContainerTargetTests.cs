using Docker.DotNet.Models;
using Grace.Data.Entities;
using Grace.Engine.Adapters.Containers;
using Grace.Engine.Capture;
using Grace.Engine.Execute;
using Grace.Engine.Faults;
using Grace.Engine.Missions;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Actor = Grace.Engine.Missions.Actor;

namespace Grace.Tests.Integration;

/// <summary>
/// Container targets against real engines: the dockerd and the Podman API service the test command
/// starts, with containers from an image built offline. Actions, probes, snapshots, rollbacks, engine
/// events as signals, and missions that heal a crash loop, a failing health check and a killed container.
/// </summary>
public sealed class ContainerTargetTests : SqliteDatabaseTest
{
    private GraceHost Host(TestEngine engine, string container, Dictionary<string, string?>? extra = null)
    {
        var settings = engine.Target("web", container);
        settings["Grace:Faults:Enabled"] = "true";
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(settings)).Start();
    }

    private static ActionRequest Request(GraceHost host, Dictionary<string, string>? parameters = null) =>
        new(Guid.NewGuid(), host.Get<TargetRegistry>().Resolve("web"), parameters ?? new Dictionary<string, string>());

    private static Task<double> ReadAsync(GraceHost host, string probe) =>
        host.Get<ExecutorCatalog>().Probe(probe).ReadAsync(new ProbeRequest(host.Get<TargetRegistry>().Resolve("web"), new Dictionary<string, string>(), null), default);

    /// <summary>A playbook that restarts the container when the engine reports it died, verified by container.running.</summary>
    private static Dictionary<string, string?> RestartOnDeath(string probe = "container.running", string source = "container:web", string minimumSeverity = "Critical") => new()
    {
        ["Grace:Patterns:web-down:Source"] = source,
        ["Grace:Patterns:web-down:MinimumSeverity"] = minimumSeverity,
        ["Grace:Patterns:web-down:Playbooks:0"] = "restart-web",
        ["Grace:Playbooks:restart-web:Action"] = "container.restart",
        ["Grace:Playbooks:restart-web:Target"] = "web",
        ["Grace:Playbooks:restart-web:Tier"] = "0",
        ["Grace:Playbooks:restart-web:Parameters:StopTimeoutSeconds"] = "1",
        ["Grace:Playbooks:restart-web:Parameters:SettleSeconds"] = "0.5",
        ["Grace:Playbooks:restart-web:Contract:Probe"] = probe,
        ["Grace:Playbooks:restart-web:Contract:Comparator"] = "Equal",
        ["Grace:Playbooks:restart-web:Contract:Threshold"] = "1",
        ["Grace:Playbooks:restart-web:Contract:DeadlineSeconds"] = "30",
    };

    [Theory]
    [InlineData("docker")]
    [InlineData("podman")]
    public async Task A_restart_stops_the_container_gracefully_starts_it_and_the_probes_read_it(string engineName)
    {
        await using var engine = TestEngine.Of(engineName);
        var name = await engine.RunAsync(TestEngine.Idle);
        var before = await engine.InspectAsync(name);
        await using var host = Host(engine, name);
        var executor = host.Get<ExecutorCatalog>().Executor("container.restart");
        var request = Request(host, new Dictionary<string, string> { ["StopTimeoutSeconds"] = "5", ["SettleSeconds"] = "0.5" });

        var snapshot = await executor.SnapshotAsync(request, default);
        Assert.Contains($"{name} ({before.ID[..12]}): running since", snapshot.Summary);
        Assert.Contains("0 restarts", snapshot.Summary);
        Assert.Contains(before.ID, snapshot.DriftKey);
        Assert.Contains(before.Image, snapshot.DriftKey);
        Assert.Equal($"container {name} ({before.ID[..12]}) from image {before.Image[7..19]}", snapshot.ApprovedAgainst);
        Assert.Contains(before.Image, snapshot.State);
        Assert.Contains("Restarts container", executor.Describe(request));

        var result = await executor.ExecuteAsync(request, snapshot, default);
        Assert.Contains("stopped gracefully", result.Message);
        Assert.Contains("running since", result.Message);
        var after = await engine.InspectAsync(name);
        Assert.True(after.State!.Running);
        Assert.NotEqual(before.State!.StartedAt, after.State!.StartedAt);

        Assert.Equal(1, await ReadAsync(host, "container.running"));
        Assert.InRange(await ReadAsync(host, "container.uptime-seconds"), 0, 30);
        Assert.Equal(after.RestartCount, await ReadAsync(host, "container.restart-count"));
        Assert.InRange(await ReadAsync(host, "container.memory-mb"), 0.01, 512);
        // No HEALTHCHECK: no health reading, and the reason says so.
        var noHealth = await Assert.ThrowsAsync<InvalidOperationException>(() => ReadAsync(host, "container.health"));
        Assert.Contains("has no HEALTHCHECK", noHealth.Message);
    }

    [Theory]
    [InlineData("docker")]
    [InlineData("podman")]
    public async Task A_stop_is_undone_by_a_start_and_a_start_by_a_stop(string engineName)
    {
        await using var engine = TestEngine.Of(engineName);
        var name = await engine.RunAsync(TestEngine.Idle);
        await using var host = Host(engine, name);
        var stop = host.Get<ExecutorCatalog>().Executor("container.stop");
        var start = host.Get<ExecutorCatalog>().Executor("container.start");
        Assert.True(stop.CanRollback);
        Assert.True(start.CanRollback);

        var request = Request(host, new Dictionary<string, string> { ["StopTimeoutSeconds"] = "5" });
        var running = await stop.SnapshotAsync(request, default);
        var stopped = await stop.ExecuteAsync(request, running, default);
        Assert.Contains("Stopped container", stopped.Message);
        Assert.Contains("gracefully", stopped.Message);
        Assert.Equal(0, await ReadAsync(host, "container.running"));
        Assert.Equal(0, await ReadAsync(host, "container.uptime-seconds"));
        Assert.Equal(0, await ReadAsync(host, "container.memory-mb"));

        // The snapshot taken while it ran says how to undo the stop: start it again.
        Assert.Contains("started", await stop.RollbackAsync(request, running, default));
        Assert.Equal(1, await ReadAsync(host, "container.running"));

        // A start from a stopped state is undone by a stop.
        await stop.ExecuteAsync(request, running, default);
        var startRequest = Request(host, new Dictionary<string, string> { ["SettleSeconds"] = "0" });
        var idle = await start.SnapshotAsync(startRequest, default);
        Assert.NotEqual(running.DriftKey, idle.DriftKey); // started or stopped by someone else: an approval of the other state is void
        Assert.Contains("Started container", (await start.ExecuteAsync(startRequest, idle, default)).Message);
        Assert.Equal(1, await ReadAsync(host, "container.running"));
        Assert.Contains("stopped", await start.RollbackAsync(startRequest, idle, default));
        Assert.Equal(0, await ReadAsync(host, "container.running"));
    }

    [Fact]
    public async Task A_container_that_ignores_its_stop_signal_is_killed_after_the_timeout()
    {
        await using var engine = TestEngine.Docker();
        var name = await engine.RunAsync("trap '' TERM; while true; do sleep 0.2; done");
        await using var host = Host(engine, name);
        var executor = host.Get<ExecutorCatalog>().Executor("container.restart");
        var request = Request(host, new Dictionary<string, string> { ["StopTimeoutSeconds"] = "1", ["SettleSeconds"] = "0" });
        var result = await executor.ExecuteAsync(request, await executor.SnapshotAsync(request, default), default);
        Assert.Contains("killed after the 1 s stop timeout", result.Message);
        Assert.True((await engine.InspectAsync(name)).State!.Running);
    }

    [Theory]
    [InlineData("docker")]
    [InlineData("podman")]
    public async Task A_container_killed_by_the_fault_demo_is_noticed_from_the_engine_events_and_restarted(string engineName)
    {
        await using var engine = TestEngine.Of(engineName);
        var name = await engine.RunAsync(TestEngine.Idle);
        await using var host = Host(engine, name, RestartOnDeath());
        var faults = host.Get<FaultInjector>();
        Assert.Null(Assert.Single(faults.TargetsFor(Grace.Engine.Adapters.Containers.ContainerKillFault.Kind), t => t.Key == "web").Unavailable);
        await WaitForWatcherAsync(host);

        var done = await faults.InjectAsync(Grace.Engine.Adapters.Containers.ContainerKillFault.Kind, "web", null, new Actor("ada", [GraceRoles.Admin]), default);
        Assert.Contains("SIGKILL", done);

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "restart-web" && m.CompletedAt != null, "finished", 60);
        Assert.True(mission.State == MissionState.Succeeded, string.Join("\n", mission.Events.OrderBy(e => e.Id).Select(e => $"{e.Kind}: {e.Message}")));
        Assert.Contains(mission.Events, e => e.Kind == "executed" && e.Message.Contains("it was not running", StringComparison.Ordinal));
        Assert.True((await engine.InspectAsync(name)).State!.Running);
        await using var db = host.CreateDb();
        var incident = await db.Incidents.AsNoTracking().SingleAsync(i => i.Id == mission.IncidentId);
        Assert.Equal("container:web", incident.Source);
        Assert.Contains("died with exit code 137", incident.SampleMessage);
    }

    [Fact]
    public async Task A_crash_looping_container_is_healed_end_to_end_by_the_restart_playbook()
    {
        // Its first three starts crash (a dependency not ready yet); the engine retries twice, then gives up.
        await using var engine = TestEngine.Docker();
        var name = await engine.RunAsync(
            "n=$(cat /tmp/starts 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/starts; "
            + "if [ $n -le 3 ]; then echo \"start $n: cannot open /data/orders.db\" >&2; sleep 0.3; exit 3; fi; " + TestEngine.Idle,
            restartPolicy: "on-failure:2", start: false);
        await using var host = Host(engine, name, RestartOnDeath());
        await WaitForWatcherAsync(host);
        await engine.Client.Containers.StartContainerAsync(name, new ContainerStartParameters());

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "restart-web" && m.CompletedAt != null, "finished", 90);
        Assert.True(mission.State == MissionState.Succeeded, string.Join("\n", mission.Events.OrderBy(e => e.Id).Select(e => $"{e.Kind}: {e.Message}")));
        Assert.Contains(mission.Events, e => e.Kind == "executed" && e.Message.Contains("Restarted container", StringComparison.Ordinal));
        var healed = await engine.WaitAsync(name, c => c.State!.Running, "running", 10);
        Assert.True(healed.State!.Running);
        await using var db = host.CreateDb();
        var incident = await db.Incidents.AsNoTracking().SingleAsync(i => i.Id == mission.IncidentId);
        Assert.Equal("container:web", incident.Source);
        Assert.Contains("died with exit code 3", incident.SampleMessage);
    }

    [Fact]
    public async Task An_unhealthy_container_is_healed_end_to_end_by_the_restart_playbook_from_its_health_events()
    {
        await using var engine = TestEngine.Docker();
        // A worker whose heartbeat file is its health: the HEALTHCHECK fails once the beat is 3 s old.
        var name = await engine.RunAsync("trap 'exit 0' TERM; while true; do date +%s > /tmp/beat; sleep 0.5; done",
            health: new HealthcheckConfig
            {
                Test = ["CMD-SHELL", "test $(( $(date +%s) - $(cat /tmp/beat) )) -lt 3"],
                Interval = TimeSpan.FromSeconds(1),
                Timeout = TimeSpan.FromSeconds(2),
                Retries = 2,
            });
        await engine.WaitAsync(name, c => c.State?.Health?.Status == "healthy", "healthy");
        await using var host = Host(engine, name, RestartOnDeath(probe: "container.health", minimumSeverity: "Error"));
        Assert.Equal(1, await ReadAsync(host, "container.health"));
        await WaitForWatcherAsync(host);

        var done = await host.Get<FaultInjector>().InjectAsync(Grace.Engine.Adapters.Containers.ContainerUnhealthyFault.Kind, "web", null, new Actor("ada", [GraceRoles.Admin]), default);
        Assert.Contains("SIGSTOP", done);

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "restart-web" && m.CompletedAt != null, "finished", 90);
        Assert.True(mission.State == MissionState.Succeeded, string.Join("\n", mission.Events.OrderBy(e => e.Id).Select(e => $"{e.Kind}: {e.Message}")));
        // The frozen process ignores its stop signal, so the restart kills it after the timeout.
        Assert.Contains(mission.Events, e => e.Kind == "executed" && e.Message.Contains("killed after the 1 s stop timeout", StringComparison.Ordinal));
        Assert.Equal("healthy", (await engine.InspectAsync(name)).State!.Health!.Status);
        await using var db = host.CreateDb();
        var incident = await db.Incidents.AsNoTracking().SingleAsync(i => i.Id == mission.IncidentId);
        Assert.Contains("is unhealthy", incident.SampleMessage);
        // Grace's own restart (a die with exit code 137) is not reported as a crash.
        Assert.DoesNotContain(await db.Incidents.AsNoTracking().ToListAsync(), i => i.SampleMessage.Contains("died", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_container_the_kernel_kills_for_memory_becomes_a_signal_and_is_restarted()
    {
        // Its first start reads 64 MiB into memory under a 16 MiB limit; later starts stay small. The
        // allocation waits a moment: an OOM kill in the first milliseconds can come before the engine
        // watches the container's memory events, and then no "oom" event is ever sent.
        await using var engine = TestEngine.Docker();
        var name = await engine.RunAsync(
            "if [ ! -f /tmp/started ]; then touch /tmp/started; sleep 2; dd if=/dev/zero of=/dev/null bs=64M count=1; fi; " + TestEngine.Idle,
            start: false, memoryBytes: 16 * 1024 * 1024);
        await using var host = Host(engine, name, RestartOnDeath());
        await WaitForWatcherAsync(host);
        await engine.Client.Containers.StartContainerAsync(name, new ContainerStartParameters());

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "restart-web" && m.CompletedAt != null, "finished", 60);
        Assert.True(mission.State == MissionState.Succeeded, string.Join("\n", mission.Events.OrderBy(e => e.Id).Select(e => $"{e.Kind}: {e.Message}")));
        Assert.True((await engine.InspectAsync(name)).State!.Running);
        await using var db = host.CreateDb();
        var incidents = await db.Incidents.AsNoTracking().Where(i => i.Source == "container:web").ToListAsync();
        Assert.Contains(incidents, i => i.SampleMessage.Contains("ran out of memory", StringComparison.Ordinal) && i.Severity == Severity.Critical);
    }

    [Fact]
    public async Task The_event_watcher_reconnects_after_the_engine_went_away_and_reports_what_happened_meanwhile()
    {
        // A Podman API service of this test's own, on the shared storage, so it can be stopped and started again.
        var socket = Path.Combine(Folder.Path, "podman.sock");
        await using var engine = TestEngine.Podman();
        var name = await engine.RunAsync(TestEngine.Idle);
        var service = StartPodmanService(socket);
        try
        {
            await using var host = Host(engine, name, new Dictionary<string, string?>(RestartOnDeath()) { ["Grace:Targets:web:Endpoint"] = $"unix://{socket}" });
            await WaitForWatcherAsync(host);
            var watcher = host.Get<ContainerEventWatcher>();

            await StopGracefullyAsync(service);
            for (var deadline = DateTime.UtcNow.AddSeconds(20); watcher.Status.Values.Single().Connected; await Task.Delay(100))
            {
                Assert.True(DateTime.UtcNow < deadline, "the watcher did not notice the engine went away");
            }

            // The container dies while nobody listens on that socket.
            await engine.Client.Containers.KillContainerAsync(name, new ContainerKillParameters { Signal = "SIGKILL" });
            await Task.Delay(1500);
            File.Delete(socket);
            service = StartPodmanService(socket);

            var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "restart-web" && m.CompletedAt != null, "finished", 90);
            Assert.True(mission.State == MissionState.Succeeded, string.Join("\n", mission.Events.OrderBy(e => e.Id).Select(e => $"{e.Kind}: {e.Message}")));
            Assert.True((await engine.InspectAsync(name)).State!.Running);
            Assert.True(watcher.Status.Values.Single().Connected);
        }
        finally
        {
            await StopGracefullyAsync(service);
            service.Dispose();
        }
    }

    /// <summary>
    /// Stops a Podman service as an operator would (SIGTERM): a SIGKILL can leave Podman's shared-memory
    /// locks held, and the other Podman service on the same storage would then wait on them.
    /// </summary>
    private static async Task StopGracefullyAsync(System.Diagnostics.Process service)
    {
        if (service.HasExited)
        {
            return;
        }

        using (var kill = System.Diagnostics.Process.Start("/bin/kill", ["-TERM", service.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await service.WaitForExitAsync(patience.Token);
    }

    private static System.Diagnostics.Process StartPodmanService(string socket)
    {
        // Under tini as a subreaper, as the test command starts the shared one (see scripts/test.sh).
        var info = new System.Diagnostics.ProcessStartInfo("/usr/bin/tini") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-s", "--", "/usr/bin/podman", "system", "service", "--time=0", $"unix://{socket}" })
        {
            info.ArgumentList.Add(argument);
        }

        var process = System.Diagnostics.Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        for (var deadline = DateTime.UtcNow.AddSeconds(15); !File.Exists(socket); Thread.Sleep(100))
        {
            Assert.True(DateTime.UtcNow < deadline, "podman system service did not create its socket");
        }

        return process;
    }

    [Fact]
    public async Task An_approval_is_void_when_the_container_was_recreated_before_the_action()
    {
        await using var engine = TestEngine.Docker();
        var name = await engine.RunAsync(TestEngine.Idle);
        var first = await engine.InspectAsync(name);
        var settings = new Dictionary<string, string?>(RestartOnDeath(source: "tests"))
        {
            ["Grace:Playbooks:restart-web:Tier"] = "2",
            ["Grace:Patterns:web-down:Target"] = "web",
        };
        await using var host = Host(engine, name, settings);
        host.Get<ISignalSink>().TryWrite(new Signal("tests", "web misbehaves", Severity.Critical, DateTimeOffset.UtcNow, Target: "web"));
        var waiting = await host.WaitForMissionAsync(m => m.PlaybookKey == "restart-web" && m.State == MissionState.AwaitingApproval, "awaiting approval");

        // Someone recreates the container (a deploy) while the approval waits: same name, new container.
        await engine.Client.Containers.RemoveContainerAsync(name, new ContainerRemoveParameters { Force = true });
        await engine.Client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = name, Image = TestEngine.Image, Cmd = ["/bin/sh", "-c", TestEngine.Idle], HostConfig = new HostConfig { NetworkMode = "none" },
        });
        await engine.Client.Containers.StartContainerAsync(name, new ContainerStartParameters());
        var second = await engine.InspectAsync(name);

        await host.Get<Grace.Engine.Gate.ApprovalService>().DecideAsync(waiting.Id, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default);
        var voided = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.CompletedAt != null, "ended");
        Assert.Equal(MissionState.Blocked, voided.State);
        var line = Assert.Single(voided.Events, e => e.Kind == "voided");
        Assert.Contains($"the container was recreated ({first.ID[..12]} → {second.ID[..12]})", line.Message);
        Assert.Equal(second.State!.StartedAt, (await engine.InspectAsync(name)).State!.StartedAt); // nothing ran
    }

    [Fact]
    public async Task An_engine_that_does_not_answer_fails_the_mission_with_the_reason_and_does_not_hang()
    {
        var port = TestCatalog.FreeLoopbackPort();
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(RestartOnDeath(source: "tests")).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:web:Kind"] = "Container",
            ["Grace:Targets:web:Endpoint"] = $"tcp://127.0.0.1:{port}",
            ["Grace:Targets:web:Container"] = "web",
            ["Grace:Patterns:web-down:Target"] = "web",
        })).Start();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        host.Get<ISignalSink>().TryWrite(new Signal("tests", "web is down", Severity.Critical, DateTimeOffset.UtcNow, Target: "web"));

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "restart-web" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Failed, mission.State);
        Assert.Contains($"The container engine at tcp://127.0.0.1:{port} does not answer", mission.StatusReason ?? "");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"took {clock.Elapsed.TotalSeconds:0} s");
    }

    private static async Task WaitForWatcherAsync(GraceHost host)
    {
        var watcher = host.Get<ContainerEventWatcher>();
        for (var deadline = DateTime.UtcNow.AddSeconds(15); !watcher.Status.Values.All(s => s.Connected) || watcher.Status.Count == 0; await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the event watcher did not connect: {string.Join(", ", watcher.Status.Select(s => $"{s.Key}: {s.Value.Error}"))}");
        }
    }
}

/// <summary>Container configuration mistakes stop the start, naming the key.</summary>
public sealed class ContainerStartupValidationTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    public static TheoryData<string, string, string> Broken => new()
    {
        { "Endpoint", "unix:///nonexistent/docker.sock", "Grace:Targets:web:Endpoint: there is no socket at /nonexistent/docker.sock" },
        { "Endpoint", "ssh://box", "Grace:Targets:web:Endpoint: 'ssh://box' uses 'ssh'" },
        { "Endpoint", "tcp://127.0.0.1", "Grace:Targets:web:Endpoint: 'tcp://127.0.0.1' needs a host and a port" },
        { "Endpoint", "", "Grace:Targets:web:Endpoint is required for a Container target" },
        { "Container", "no such; thing", "Grace:Targets:web:Container 'no such; thing' is not a container name or id" },
        { "Container", "grace-test-never-created", "Grace:Targets:web:Container: the engine at unix://" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void A_configuration_mistake_stops_the_start_naming_the_key(string setting, string value, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Grace:Targets:web:Kind"] = "Container",
            ["Grace:Targets:web:Endpoint"] = Environment.GetEnvironmentVariable("GRACE_TEST_DOCKER"),
            ["Grace:Targets:web:Container"] = "web",
        };
        settings[$"Grace:Targets:web:{setting}"] = value;
        using var host = new GraceHost(TestCatalog.Settings(_folder).Concat(settings));
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        Assert.Contains(expected, SshTargetTests.Messages(ex), StringComparison.Ordinal);
    }

    [Fact]
    public void A_restart_the_action_timeout_would_cut_off_stops_the_start()
    {
        using var host = new GraceHost(TestCatalog.Settings(_folder).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:demo-web:Endpoint"] = Environment.GetEnvironmentVariable("GRACE_TEST_DOCKER"),
            ["Grace:Playbooks:restart-demo-web:Parameters:StopTimeoutSeconds"] = "120",
        }));
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        Assert.Contains("Grace:Playbooks:restart-demo-web:Parameters: container.restart may take 137 s", SshTargetTests.Messages(ex), StringComparison.Ordinal);
    }
}
