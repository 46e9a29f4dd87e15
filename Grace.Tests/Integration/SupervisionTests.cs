using System.Diagnostics;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Supervision;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;

namespace Grace.Tests.Integration;

/// <summary>A real supervised child process: crash, signal, mission, restart, verified.</summary>
public sealed class SupervisionTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private GraceHost Host(string script) => new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(new Dictionary<string, string?>
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
        Assert.Contains(mission.Events, e => e.Kind == "executed" && e.Message.Contains($"→ {second.Id}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_process_that_ignores_sigterm_is_killed_after_the_timeout_and_memory_is_read()
    {
        await using var host = Host("trap '' TERM; while true; do sleep 1; done");
        var supervisor = host.Get<ProcessSupervisor>();
        var executor = new ProcessRestartExecutor(supervisor);
        var target = host.Get<TargetRegistry>().Resolve("worker");
        var request = new ActionRequest(Guid.NewGuid(), target, new Dictionary<string, string> { ["StopTimeoutSeconds"] = "1", ["SettleSeconds"] = "0.5" });
        var result = await executor.ExecuteAsync(request, await executor.SnapshotAsync(request, default), default);
        Assert.Contains("killed after the stop timeout", result.Message);

        var memory = new ProcessProbe(supervisor, "process.memory-mb");
        Assert.True(await memory.ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default) > 0);
        var graceCpu = new ProcessProbe(supervisor, "process.cpu-percent");
        var cpu = await graceCpu.ReadAsync(new ProbeRequest(target with { Kind = TargetKind.Grace }, new Dictionary<string, string> { ["WindowMilliseconds"] = "200" }, null), default);
        Assert.InRange(cpu, 0, 100.5);
    }
}
