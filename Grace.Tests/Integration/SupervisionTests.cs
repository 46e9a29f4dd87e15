using System.Diagnostics;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Adapters.Processes;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;

namespace Grace.Tests.Integration;

/// <summary>A real supervised child process: crash, signal, mission, restart, verified.</summary>
public sealed class SupervisionTests : SqliteDatabaseTest
{
    private GraceHost Host(string script, Dictionary<string, string?>? extra = null) => new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(extra ?? []).Concat(new Dictionary<string, string?>
    {
        ["Grace:Targets:worker:Kind"] = "Process",
        ["Grace:Targets:worker:Command"] = "/bin/sh",
        ["Grace:Targets:worker:Arguments:0"] = "-c",
        ["Grace:Targets:worker:Arguments:1"] = script,
        ["Grace:Patterns:worker-down:Source"] = "process:worker",
        ["Grace:Patterns:worker-down:MinimumSeverity"] = "Critical",
        ["Grace:Patterns:worker-down:Playbooks:0"] = "restart-worker",
        ["Grace:Playbooks:restart-worker:Action"] = "process.restart",
        ["Grace:Playbooks:restart-worker:Target"] = "worker",
        ["Grace:Playbooks:restart-worker:Tier"] = "0",
        ["Grace:Playbooks:restart-worker:Parameters:StopTimeoutSeconds"] = "1",
        ["Grace:Playbooks:restart-worker:Parameters:SettleSeconds"] = "1",
        ["Grace:Playbooks:restart-worker:Contract:Probe"] = "process.alive",
        ["Grace:Playbooks:restart-worker:Contract:Comparator"] = "Equal",
        ["Grace:Playbooks:restart-worker:Contract:Threshold"] = "1",
        ["Grace:Playbooks:restart-worker:Contract:DeadlineSeconds"] = "10",
    })).Start();

    [Fact]
    public async Task A_crashed_process_becomes_a_mission_that_restarts_it_and_verifies_it_is_alive()
    {
        await using var host = Host("exec sleep 300");
        var supervisor = host.Get<ProcessSupervisor>();
        var first = supervisor.ProcessOf("worker");
        Assert.NotNull(first);
        var firstPid = first.Id;

        // A real crash: the child is killed from outside Grace.
        Process.GetProcessById(firstPid).Kill();
        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "restart-worker" && m.CompletedAt != null, "finished", 30);

        Assert.Equal(MissionState.Succeeded, mission.State);
        var second = supervisor.ProcessOf("worker");
        Assert.NotNull(second);
        Assert.NotEqual(firstPid, second.Id);
        Assert.False(second.HasExited);
        Assert.Contains(mission.Events, e => e.Kind == "executed" && e.Message.Contains($"(it was not running) as pid {second.Id}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_process_that_ignores_sigterm_is_killed_after_the_timeout_and_memory_is_read()
    {
        await using var host = Host("trap '' TERM; while true; do sleep 1; done");
        var supervisor = host.Get<ProcessSupervisor>();
        var executor = host.Get<ExecutorCatalog>().Executor("process.restart");
        var target = host.Get<TargetRegistry>().Resolve("worker");
        var request = new ActionRequest(Guid.NewGuid(), target, new Dictionary<string, string> { ["StopTimeoutSeconds"] = "1", ["SettleSeconds"] = "0.5" });
        var result = await executor.ExecuteAsync(request, await executor.SnapshotAsync(request, default), default);
        Assert.Contains("killed after the stop timeout", result.Message);

        var memory = host.Get<ExecutorCatalog>().Probe("process.memory-mb");
        Assert.True(await memory.ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default) > 0);
    }

    [Fact]
    public async Task The_cpu_probe_reads_a_spinning_process_busy_and_a_sleeping_one_idle()
    {
        // The worker spins in a shell loop; the idler sleeps. A probe that read 0 (or anything fixed) cannot tell them apart.
        await using var host = Host("while :; do :; done", new Dictionary<string, string?>
        {
            ["Grace:Targets:idler:Kind"] = "Process",
            ["Grace:Targets:idler:Command"] = "/bin/sh",
            ["Grace:Targets:idler:Arguments:0"] = "-c",
            ["Grace:Targets:idler:Arguments:1"] = "exec sleep 300",
        });
        var cpu = host.Get<ExecutorCatalog>().Probe("process.cpu-percent");
        var window = new Dictionary<string, string> { ["WindowMilliseconds"] = "1000" };
        var busy = await cpu.ReadAsync(new ProbeRequest(host.Get<TargetRegistry>().Resolve("worker"), window, null), default);
        var idle = await cpu.ReadAsync(new ProbeRequest(host.Get<TargetRegistry>().Resolve("idler"), window, null), default);
        Assert.True(busy > 5, $"a spinning process read {busy:0.#} %");
        Assert.True(idle < 1, $"a sleeping process read {idle:0.#} %");
    }

    /// <summary>A worker whose health check is its heartbeat: one line of output at least every second.</summary>
    private static Dictionary<string, string?> Heartbeat(string healthTimeoutSeconds) => new()
    {
        ["Grace:Targets:worker:HealthCheck:Probe"] = "process.responsive",
        ["Grace:Targets:worker:HealthCheck:Parameters:MaxSilentSeconds"] = "1",
        ["Grace:Targets:worker:HealthCheck:Comparator"] = "Equal",
        ["Grace:Targets:worker:HealthCheck:Threshold"] = "1",
        ["Grace:Targets:worker:HealthCheck:IntervalSeconds"] = "60",
        ["Grace:Playbooks:restart-worker:Parameters:HealthTimeoutSeconds"] = healthTimeoutSeconds,
    };

    private static ActionRequest RestartRequest(GraceHost host, string healthTimeoutSeconds) =>
        new(Guid.NewGuid(), host.Get<TargetRegistry>().Resolve("worker"), new Dictionary<string, string> { ["StopTimeoutSeconds"] = "2", ["HealthTimeoutSeconds"] = healthTimeoutSeconds });

    [Fact]
    public async Task A_restart_returns_only_once_the_health_check_passes()
    {
        // The worker takes two seconds before its first line: only then is it responsive.
        await using var host = Host("sleep 2; while true; do echo working; sleep 0.2; done", Heartbeat("20"));
        var executor = host.Get<ExecutorCatalog>().Executor("process.restart");
        var request = RestartRequest(host, "20");
        var supervisor = host.Get<ProcessSupervisor>();
        var result = await executor.ExecuteAsync(request, await executor.SnapshotAsync(request, default), default);

        // It returned with the new process already heard from: its first line came after a two-second silence.
        Assert.NotNull(supervisor.LastOutputOf("worker"));
        Assert.True(supervisor.LastOutputOf("worker") >= supervisor.StartedAtOf("worker")!.Value.AddSeconds(1.5), "the first line came only after the worker's start-up pause");
        Assert.Contains("healthy after", result.Message);
        var responsive = host.Get<ExecutorCatalog>().Probe("process.responsive");
        Assert.Equal(1, await responsive.ReadAsync(new ProbeRequest(request.Target, new Dictionary<string, string> { ["MaxSilentSeconds"] = "1" }, null), default));
    }

    [Fact]
    public async Task A_restarted_process_that_never_becomes_healthy_fails_the_action_with_the_reading()
    {
        await using var host = Host("exec sleep 300", Heartbeat("1.5"));
        var executor = host.Get<ExecutorCatalog>().Executor("process.restart");
        var request = RestartRequest(host, "1.5");
        var refused = await Assert.ThrowsAsync<ActionRefusedException>(async () => await executor.ExecuteAsync(request, await executor.SnapshotAsync(request, default), default));
        Assert.Contains("did not pass within 1.5 s", refused.Message);
        Assert.Contains("process.responsive is equal to 1", refused.Message);
        Assert.Contains("read 0", refused.Message);
    }

    [Fact]
    public async Task A_stopped_process_is_alive_but_not_responsive_and_a_restart_ends_it()
    {
        await using var host = Host("while true; do echo working; sleep 0.2; done", Heartbeat("10"));
        var supervisor = host.Get<ProcessSupervisor>();
        var target = host.Get<TargetRegistry>().Resolve("worker");
        var probes = host.Get<ExecutorCatalog>();
        var heartbeat = new Dictionary<string, string> { ["MaxSilentSeconds"] = "1" };
        await WaitForAsync(async () => await probes.Probe("process.responsive").ReadAsync(new ProbeRequest(target, heartbeat, null), default) == 1);

        var hung = supervisor.ProcessOf("worker")!;
        Assert.Equal(0, NativeMethods.Kill(hung.Id, NativeMethods.SigStop)); // from outside Grace, as a debugger or a stuck kernel call would
        await WaitForAsync(() => Task.FromResult(ProcessSupervisor.IsStopped(hung)));
        Assert.Equal(1, await probes.Probe("process.alive").ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default));
        Assert.Equal(0, await probes.Probe("process.responsive").ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default));

        // SIGTERM alone would wait for a continue; the supervisor continues it, so the stop is graceful.
        var executor = probes.Executor("process.restart");
        var request = RestartRequest(host, "10");
        var result = await executor.ExecuteAsync(request, await executor.SnapshotAsync(request, default), default);
        Assert.Contains("stopped gracefully", result.Message);
        Assert.True(hung.HasExited);
        Assert.True(await probes.Probe("process.silent-seconds").ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default) < 1);
    }

    [Fact]
    public async Task A_worker_that_spoke_and_then_fell_silent_is_alive_but_not_responsive()
    {
        // A real hang without any signal: one line, then nothing (a deadlocked worker looks the same from outside).
        await using var host = Host("echo started; exec sleep 300", Heartbeat("10"));
        var target = host.Get<TargetRegistry>().Resolve("worker");
        var probes = host.Get<ExecutorCatalog>();
        var heartbeat = new Dictionary<string, string> { ["MaxSilentSeconds"] = "1" };
        var supervisor = host.Get<ProcessSupervisor>();
        await WaitForAsync(() => Task.FromResult(supervisor.LastOutputOf("worker") is not null));

        await WaitForAsync(async () => await probes.Probe("process.responsive").ReadAsync(new ProbeRequest(target, heartbeat, null), default) == 0);
        Assert.Equal(1, await probes.Probe("process.alive").ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default));
        Assert.False(ProcessSupervisor.IsStopped(supervisor.ProcessOf("worker")!));
        Assert.True(await probes.Probe("process.silent-seconds").ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default) > 1);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "condition not reached within 10 s");
            await Task.Delay(100);
        }
    }
}
