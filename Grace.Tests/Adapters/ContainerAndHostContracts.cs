using Docker.DotNet.Models;
using Grace.Engine.Adapters.Containers;
using Grace.Engine.Adapters.Ssh;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace Grace.Tests.Adapters;

/// <summary>The container actions keep the contract on the real dockerd the test command starts.</summary>
public abstract class ContainerContract : AdapterContractTests
{
    protected TestEngine Engine { get; } = TestEngine.Docker();

    protected ContainerEngines Engines { get; } = new(TimeProvider.System);

    protected static FixedOptionsMonitor<EngineOptions> EngineOptions { get; } = new(new EngineOptions());

    protected ResolvedTarget Target(string container) => Of(new ContainerTarget(Engine.Endpoint, container));

    protected override ResolvedTarget Unreachable() => Of(new ContainerTarget($"tcp://127.0.0.1:{TestCatalog.FreeLoopbackPort()}", "web"));

    private static ResolvedTarget Of(ContainerTarget settings) => new("web", ContainerKind.Id, null, new TargetOptions { Kind = ContainerKind.Id }, settings);

    public override async Task DisposeAsync()
    {
        await Engine.DisposeAsync();
        Engines.Dispose();
        await base.DisposeAsync();
    }
}

/// <summary><c>container.restart</c> of a container that stopped: running again (a restart cannot be undone).</summary>
public sealed class ContainerRestartContract : ContainerContract
{
    private IRemediationExecutor? _action;
    protected override IRemediationExecutor Action => _action ??= new ContainerRestartAction(Engines, EngineOptions, TimeProvider.System);
    protected override IProbe Probe => new ContainerRunningProbe(Engines);
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["StopTimeoutSeconds"] = "2", ["SettleSeconds"] = "0" };

    protected override async Task<ResolvedTarget> BreakAsync()
    {
        var name = await Engine.RunAsync(TestEngine.Idle);
        await Engine.Client.Containers.StopContainerAsync(name, new ContainerStopParameters { WaitBeforeKillSeconds = 2 });
        return Target(name);
    }

    protected override bool Healed(double reading) => reading == 1;
}

/// <summary><c>container.start</c> of a stopped container; the rollback stops it again.</summary>
public sealed class ContainerStartContract : ContainerContract
{
    private IRemediationExecutor? _action;
    protected override IRemediationExecutor Action => _action ??= new ContainerStartAction(Engines, TimeProvider.System);
    protected override IProbe Probe => new ContainerRunningProbe(Engines);
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["SettleSeconds"] = "0" };

    protected override async Task<ResolvedTarget> BreakAsync() => Target(await Engine.RunAsync(TestEngine.Idle, start: false));

    protected override bool Healed(double reading) => reading == 1;
}

/// <summary><c>container.stop</c> of a running container (one that must be stopped); the rollback starts it again.</summary>
public sealed class ContainerStopContract : ContainerContract
{
    private IRemediationExecutor? _action;
    protected override IRemediationExecutor Action => _action ??= new ContainerStopAction(Engines, EngineOptions, TimeProvider.System);
    protected override IProbe Probe => new ContainerRunningProbe(Engines);
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["StopTimeoutSeconds"] = "2" };

    protected override async Task<ResolvedTarget> BreakAsync() => Target(await Engine.RunAsync(TestEngine.Idle));

    protected override bool Healed(double reading) => reading == 0;
}

/// <summary>
/// <c>ssh.run</c> on the real sshd the test command starts: a declared command creates a marker file
/// (with a secret parameter it echoes), <c>ssh.read</c> counts it, the declared undo removes it.
/// </summary>
public sealed class SshRunContract : AdapterContractTests
{
    private readonly string _name = $"contract-{Guid.NewGuid():N}"[..20];
    private readonly SshSessions _sessions = new(NullLogger<SshSessions>.Instance);
    private IRemediationExecutor? _action;

    private static string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"{name} is not set: run the tests with `bash scripts/test.sh`, which starts sshd for them.");

    protected override IRemediationExecutor Action => _action ??= new SshRunAction(_sessions, new FixedOptionsMonitor<EngineOptions>(new EngineOptions()));
    protected override IProbe Probe => new SshReadProbe(_sessions);
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["Command"] = "touch", ["Name"] = _name, ["Token"] = "tok-7f3a9c2e" };
    protected override IReadOnlyDictionary<string, string> ProbeParameters => new Dictionary<string, string> { ["Command"] = "count", ["Name"] = _name };
    protected override string? Secret => "tok-7f3a9c2e";

    protected override Task<ResolvedTarget> BreakAsync()
    {
        File.Delete(Path.Combine(Env("GRACE_TEST_SSH_WORK"), _name));
        var (host, port) = (Env("GRACE_TEST_SSH").Split(':')[0], int.Parse(Env("GRACE_TEST_SSH").Split(':')[1], System.Globalization.CultureInfo.InvariantCulture));
        return Task.FromResult(Of(host, port));
    }

    protected override ResolvedTarget Unreachable() => Of("127.0.0.1", TestCatalog.FreeLoopbackPort());

    protected override bool Healed(double reading) => reading == 1;

    private static ResolvedTarget Of(string address, int port)
    {
        var work = Env("GRACE_TEST_SSH_WORK");
        var identifier = new SshParameterOptions { Type = "Identifier" };
        var settings = new SshTargetSettings
        {
            Address = address, Port = port, User = Env("GRACE_TEST_SSH_USER"), PrivateKeyFile = Env("GRACE_TEST_SSH_KEY"),
            HostKeyFingerprint = Env("GRACE_TEST_SSH_FINGERPRINT"), ConnectTimeoutSeconds = 3,
            Commands = new(StringComparer.OrdinalIgnoreCase)
            {
                ["touch"] = new SshCommandOptions
                {
                    Command = $"touch {work}/{{Name}} && echo created {{Name}} with {{Token}}",
                    Undo = $"rm -f {work}/{{Name}}",
                    Parameters = new(StringComparer.OrdinalIgnoreCase) { ["Name"] = identifier, ["Token"] = new SshParameterOptions { Type = "Identifier", Secret = true } },
                },
                ["count"] = new SshCommandOptions { Command = $"ls {work} | grep -c {{Name}} || true", TimeoutSeconds = 5, Parameters = new(StringComparer.OrdinalIgnoreCase) { ["Name"] = identifier } },
            },
        };
        return new ResolvedTarget("box", HostKind.Id, null, new TargetOptions { Kind = HostKind.Id }, settings);
    }
}
