using System.Diagnostics;
using Grace.Data.Entities;
using Grace.Engine.Adapters.Ssh;
using Grace.Engine.Capture;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;

namespace Grace.Tests.Integration;

/// <summary>
/// Host targets against a real OpenSSH server the test command starts on a loopback port, with its
/// own host key and authorized key: declared commands run and are recorded, a wrong host key is
/// refused, a timeout ends the remote command, injected values never reach a shell, and a failed
/// contract runs the declared undo.
/// </summary>
public sealed class SshTargetTests : SqliteDatabaseTest
{
    private static string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"{name} is not set: run the tests with `bash scripts/test.sh`, which starts sshd for them.");

    private static string Work => Env("GRACE_TEST_SSH_WORK");

    /// <summary>A Host target on the test sshd, with a few declared commands working in a folder of this test.</summary>
    private static Dictionary<string, string?> HostSettings(string? fingerprint = null, string? address = null)
    {
        var (host, port) = (Env("GRACE_TEST_SSH").Split(':')[0], Env("GRACE_TEST_SSH").Split(':')[1]);
        return new()
        {
            ["Grace:Targets:box:Kind"] = "Host",
            ["Grace:Targets:box:Address"] = address ?? host,
            ["Grace:Targets:box:Port"] = address is null ? port : TestCatalog.FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Grace:Targets:box:User"] = Env("GRACE_TEST_SSH_USER"),
            ["Grace:Targets:box:PrivateKeyFile"] = Env("GRACE_TEST_SSH_KEY"),
            ["Grace:Targets:box:HostKeyFingerprint"] = fingerprint ?? Env("GRACE_TEST_SSH_FINGERPRINT"),
            ["Grace:Targets:box:ConnectTimeoutSeconds"] = "3",
            // Writes a marker file named by the parameter, and says so on both streams.
            ["Grace:Targets:box:Commands:touch:Command"] = $"touch {Work}/{{Name}} && echo created {{Name}} && echo 'note: token=s3cr3t-value' >&2",
            ["Grace:Targets:box:Commands:touch:Undo"] = $"rm -f {Work}/{{Name}} && echo removed {{Name}}",
            ["Grace:Targets:box:Commands:touch:Parameters:Name:Type"] = "Identifier",
            ["Grace:Targets:box:Commands:count:Command"] = $"ls {Work} | grep -c {{Name}} || true",
            ["Grace:Targets:box:Commands:count:TimeoutSeconds"] = "5",
            ["Grace:Targets:box:Commands:count:Parameters:Name:Type"] = "Identifier",
            ["Grace:Targets:box:Commands:wait:Command"] = "sleep {Seconds}; echo woke",
            ["Grace:Targets:box:Commands:wait:TimeoutSeconds"] = "2",
            ["Grace:Targets:box:Commands:wait:Parameters:Seconds:Type"] = "Integer",
            ["Grace:Targets:box:Commands:fail:Command"] = "echo about to fail; echo 'password=hunter22 is wrong' >&2; exit 3",
        };
    }

    private GraceHost Host(Dictionary<string, string?>? extra = null) =>
        new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(HostSettings()).Concat(extra ?? [])).Start();

    private static ActionRequest Request(GraceHost host, Dictionary<string, string> parameters) =>
        new(Guid.NewGuid(), host.Get<TargetRegistry>().Resolve("box"), parameters);

    [Fact]
    public async Task A_declared_command_runs_with_its_quoted_parameter_and_its_output_is_recorded_with_secrets_redacted()
    {
        var name = $"made-{Guid.NewGuid():N}"[..16];
        await using var host = Host();
        var executor = host.Get<ExecutorCatalog>().Executor("ssh.run");
        var request = Request(host, new() { ["Command"] = "touch", ["Name"] = name });
        Assert.Contains($"touch {Work}/'{name}'", executor.Describe(request));

        var snapshot = await executor.SnapshotAsync(request, default);
        Assert.Contains($"undo: `rm -f {Work}/'{name}'", snapshot.Summary);
        using (var drift = System.Text.Json.JsonDocument.Parse(snapshot.DriftKey))
        {
            Assert.Equal(Env("GRACE_TEST_SSH_FINGERPRINT").TrimEnd('='), drift.RootElement.GetProperty("HostKey").GetString());
        }

        var result = await executor.ExecuteAsync(request, snapshot, default);

        Assert.True(File.Exists(Path.Combine(Work, name)));
        Assert.Contains("exited 0", result.Message);
        Assert.Contains($"stdout: created {name}", result.Message);
        Assert.Contains("token=***", result.Message);
        Assert.DoesNotContain("s3cr3t", result.Message + result.Data);
        Assert.Contains("\"exitCode\":0", result.Data);

        var count = host.Get<ExecutorCatalog>().Probe("ssh.read");
        Assert.Equal(1, await count.ReadAsync(new ProbeRequest(request.Target, new Dictionary<string, string> { ["Command"] = "count", ["Name"] = name }, null), default));

        Assert.Contains($"removed {name}", await executor.RollbackAsync(request, snapshot, default));
        Assert.False(File.Exists(Path.Combine(Work, name)));
    }

    [Fact]
    public async Task A_failing_command_fails_the_action_with_its_exit_code_and_redacted_output()
    {
        await using var host = Host();
        var executor = host.Get<ExecutorCatalog>().Executor("ssh.run");
        var request = Request(host, new() { ["Command"] = "fail" });
        var failed = await Assert.ThrowsAsync<RemoteCommandException>(() => executor.ExecuteAsync(request, executor.SnapshotAsync(request, default).Result, default));
        Assert.Contains("exited with code 3", failed.Message);
        Assert.Contains("stdout: about to fail", failed.Message);
        Assert.Contains("password=***", failed.Message);
        Assert.DoesNotContain("hunter22", failed.Message);
        Assert.False(host.Get<ActionResilience>().IsTransient("box", failed));
    }

    [Fact]
    public async Task A_wrong_host_key_is_refused_and_the_message_names_both_keys()
    {
        var wrong = "SHA256:" + Convert.ToBase64String(new byte[32]).TrimEnd('=');
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(HostSettings(fingerprint: wrong))).Start();
        var name = $"never-{Guid.NewGuid():N}"[..16];
        var executor = host.Get<ExecutorCatalog>().Executor("ssh.run");
        var request = Request(host, new() { ["Command"] = "touch", ["Name"] = name });
        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => executor.ExecuteAsync(request, executor.SnapshotAsync(request, default).Result, default));
        Assert.Contains($"presented host key {Env("GRACE_TEST_SSH_FINGERPRINT").TrimEnd('=')}", refused.Message);
        Assert.Contains($"Grace:Targets:box:HostKeyFingerprint pins {wrong}", refused.Message);
        Assert.Contains("refused to connect", refused.Message);
        Assert.False(File.Exists(Path.Combine(Work, name)));
    }

    [Fact]
    public async Task A_command_past_its_timeout_is_ended_on_the_host()
    {
        await using var host = Host();
        var executor = host.Get<ExecutorCatalog>().Executor("ssh.run");
        // A sleep no other test runs, so the host's process table can be searched for it.
        var seconds = 40 + Random.Shared.Next(1000, 9999);
        var request = Request(host, new() { ["Command"] = "wait", ["Seconds"] = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var clock = Stopwatch.StartNew();
        var timedOut = await Assert.ThrowsAsync<RemoteCommandException>(() => executor.ExecuteAsync(request, executor.SnapshotAsync(request, default).Result, default));
        Assert.Contains("ran past its 2 s timeout and was ended on the host", timedOut.Message);
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.5, 12);
        // The sshd runs on this machine: its process table is the remote one.
        var still = Process.GetProcesses().Where(p => { try { return File.ReadAllText($"/proc/{p.Id}/cmdline").Contains($"sleep\0{seconds}", StringComparison.Ordinal); } catch (IOException) { return false; } }).ToList();
        Assert.Empty(still);
    }

    [Fact]
    public async Task An_injected_parameter_is_refused_before_anything_runs()
    {
        await using var host = Host();
        var executor = host.Get<ExecutorCatalog>().Executor("ssh.run");
        var request = Request(host, new() { ["Command"] = "touch", ["Name"] = "x; rm -rf /" });
        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => executor.SnapshotAsync(request, default));
        Assert.Contains("Refused before anything ran", refused.Message);
        Assert.Contains("Name 'x; rm -rf /' is not an Identifier", refused.Message);
        await Assert.ThrowsAsync<ActionRefusedException>(() => executor.ExecuteAsync(request, new SnapshotState("{}", "", ""), default));
        Assert.False(File.Exists(Path.Combine(Work, "x")));

        // An option is not an identifier either: a value never starts with '-'.
        var option = Request(host, new() { ["Command"] = "touch", ["Name"] = "--help" });
        Assert.Contains("not starting with '-'", (await Assert.ThrowsAsync<ActionRefusedException>(() => executor.SnapshotAsync(option, default))).Message);
    }

    [Fact]
    public async Task The_undo_runs_when_the_contract_fails()
    {
        var name = $"undo-{Guid.NewGuid():N}"[..16];
        await using var host = Host(new Dictionary<string, string?>
        {
            ["Grace:Patterns:box-marker:Source"] = "tests",
            ["Grace:Patterns:box-marker:MessageRegex"] = "marker missing",
            ["Grace:Patterns:box-marker:Target"] = "box",
            ["Grace:Patterns:box-marker:Playbooks:0"] = "touch-marker",
            ["Grace:Playbooks:touch-marker:Action"] = "ssh.run",
            ["Grace:Playbooks:touch-marker:Target"] = "box",
            ["Grace:Playbooks:touch-marker:Tier"] = "0",
            ["Grace:Playbooks:touch-marker:Parameters:Command"] = "touch",
            ["Grace:Playbooks:touch-marker:Parameters:Name"] = name,
            // A contract that cannot hold: two files of that name.
            ["Grace:Playbooks:touch-marker:Contract:Probe"] = "ssh.read",
            ["Grace:Playbooks:touch-marker:Contract:Parameters:Command"] = "count",
            ["Grace:Playbooks:touch-marker:Contract:Parameters:Name"] = name,
            ["Grace:Playbooks:touch-marker:Contract:Comparator"] = "Equal",
            ["Grace:Playbooks:touch-marker:Contract:Threshold"] = "2",
            ["Grace:Playbooks:touch-marker:Contract:DeadlineSeconds"] = "3",
        });
        host.Get<ISignalSink>().TryWrite(new Signal("tests", "marker missing on box", Severity.Error, DateTimeOffset.UtcNow, Target: "box"));

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "touch-marker" && m.CompletedAt != null, "finished", 60);
        var timeline = string.Join("\n", mission.Events.OrderBy(e => e.Id).Select(e => $"{e.Kind}: {e.Message}"));
        Assert.True(mission.State == MissionState.RolledBack, timeline);
        Assert.Contains(mission.Events, e => e.Kind == "executed" && e.Message.Contains($"created {name}", StringComparison.Ordinal));
        Assert.Contains(mission.Events, e => e.Kind == "rolled-back" && e.Message.Contains($"removed {name}", StringComparison.Ordinal));
        Assert.DoesNotContain("s3cr3t", timeline);
        Assert.False(File.Exists(Path.Combine(Work, name)));
    }

    [Fact]
    public async Task A_host_that_is_down_fails_the_mission_with_the_reason_and_does_not_hang()
    {
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(HostSettings(address: "127.0.0.1")).Concat(new Dictionary<string, string?>
        {
            ["Grace:Patterns:box-marker:Source"] = "tests",
            ["Grace:Patterns:box-marker:Target"] = "box",
            ["Grace:Patterns:box-marker:Playbooks:0"] = "touch-marker",
            ["Grace:Playbooks:touch-marker:Action"] = "ssh.run",
            ["Grace:Playbooks:touch-marker:Target"] = "box",
            ["Grace:Playbooks:touch-marker:Tier"] = "0",
            ["Grace:Playbooks:touch-marker:Parameters:Command"] = "touch",
            ["Grace:Playbooks:touch-marker:Parameters:Name"] = "down",
            ["Grace:Playbooks:touch-marker:Contract:Probe"] = "ssh.read",
            ["Grace:Playbooks:touch-marker:Contract:Parameters:Command"] = "count",
            ["Grace:Playbooks:touch-marker:Contract:Parameters:Name"] = "down",
            ["Grace:Playbooks:touch-marker:Contract:Comparator"] = "Equal",
            ["Grace:Playbooks:touch-marker:Contract:Threshold"] = "1",
            ["Grace:Playbooks:touch-marker:Contract:DeadlineSeconds"] = "3",
        })).Start();
        var clock = Stopwatch.StartNew();
        host.Get<ISignalSink>().TryWrite(new Signal("tests", "marker missing on box", Severity.Error, DateTimeOffset.UtcNow, Target: "box"));

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "touch-marker" && m.CompletedAt != null, "finished", 90);
        var timeline = string.Join("\n", mission.Events.OrderBy(e => e.Id).Select(e => $"{e.Kind}: {e.Message}"));
        Assert.True(mission.State == MissionState.Failed, timeline);
        Assert.Contains("Could not reach 127.0.0.1:", mission.StatusReason ?? "");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed.TotalSeconds:0} s");
    }

    public static TheoryData<string, string, string> Broken => new()
    {
        { "Grace:Targets:box:HostKeyFingerprint", "MD5:aa:bb", "Grace:Targets:box:HostKeyFingerprint 'MD5:aa:bb' is not a SHA256 fingerprint" },
        { "Grace:Targets:box:HostKeyFingerprint", "", "Grace:Targets:box:HostKeyFingerprint is required for a Host target" },
        { "Grace:Targets:box:Commands:touch:Parameters:Name:Type", "", "Grace:Targets:box:Commands:touch:Parameters:Name:Type is required" },
        { "Grace:Targets:box:Commands:wait:Parameters:Seconds:Type", "Shell", "Grace:Targets:box:Commands:wait:Parameters:Seconds:Type 'Shell' is not one of Identifier" },
        { "Grace:Targets:box:Commands:count:Command", "ls {Folder}", "Grace:Targets:box:Commands:count:Command uses {Folder}, which is not declared" },
        { "Grace:Targets:box:PrivateKeyFile", "/nonexistent/key", "Grace:Targets:box:PrivateKeyFile: /nonexistent/key cannot be used as a private key" },
        { "Grace:Playbooks:p:Parameters:Name", "x; rm -rf /", "Grace:Playbooks:p:Parameters:Name 'x; rm -rf /' is not an Identifier" },
        { "Grace:Playbooks:p:Parameters:Command", "reboot", "Grace:Playbooks:p:Parameters:Command: 'reboot' is not declared under Grace:Targets:box:Commands" },
        { "Grace:Playbooks:p:Parameters:Extra", "1", "Grace:Playbooks:p:Parameters:Extra is not a parameter of this command" },
        { "Grace:Playbooks:p:Contract:Parameters:Name", "$(id)", "Grace:Playbooks:p:Contract:Parameters:Name '$(id)' is not an Identifier" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void A_configuration_mistake_stops_the_start_naming_the_key(string key, string value, string expected)
    {
        var settings = HostSettings().Concat(new Dictionary<string, string?>
        {
            ["Grace:Playbooks:p:Action"] = "ssh.run",
            ["Grace:Playbooks:p:Target"] = "box",
            ["Grace:Playbooks:p:Parameters:Command"] = "touch",
            ["Grace:Playbooks:p:Parameters:Name"] = "ok",
            ["Grace:Playbooks:p:Contract:Probe"] = "ssh.read",
            ["Grace:Playbooks:p:Contract:Parameters:Command"] = "count",
            ["Grace:Playbooks:p:Contract:Parameters:Name"] = "ok",
        }).Where(kv => kv.Key != key).Append(new(key, value));
        using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(settings));
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        Assert.Contains(expected, Messages(ex), StringComparison.Ordinal);
    }

    internal static string Messages(Exception ex)
    {
        var all = new List<string>();
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            all.Add(e.Message);
            if (e is AggregateException aggregate)
            {
                all.AddRange(aggregate.InnerExceptions.Select(Messages));
            }
        }

        return string.Join(" | ", all);
    }
}
