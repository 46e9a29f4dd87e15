using Grace.Engine.Adapters.Aws;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;

namespace Grace.Tests.Adapters.Aws;

/// <summary><c>aws.ec2.stop</c> on a running instance of the moto server; the rollback starts it again.</summary>
public sealed class Ec2StopContract : AdapterContractTests
{
    private readonly AwsClients _clients = Moto.Clients();

    protected override IRemediationExecutor Action => new Ec2StopAction(_clients);
    protected override IProbe Probe => new Ec2InstanceStateProbe(_clients);
    protected override string Secret => Moto.SecretKey;

    protected override async Task<ResolvedTarget> BreakAsync() => Moto.Instance("web-1", await Moto.RunInstanceAsync());

    protected override ResolvedTarget Unreachable() => Moto.Instance("web-1", "i-0123456789abcdef0", Moto.Nowhere());

    // Stopping or stopped: the stop took effect.
    protected override bool Healed(double reading) => reading is (int)Ec2State.Stopping or (int)Ec2State.Stopped;

    public override Task DisposeAsync()
    {
        _clients.Dispose();
        return base.DisposeAsync();
    }
}

/// <summary><c>aws.ec2.start</c> on a stopped instance of the moto server; the rollback stops it again.</summary>
public sealed class Ec2StartContract : AdapterContractTests
{
    private readonly AwsClients _clients = Moto.Clients();

    protected override IRemediationExecutor Action => new Ec2StartAction(_clients);
    protected override IProbe Probe => new Ec2InstanceStateProbe(_clients);
    protected override string Secret => Moto.SecretKey;

    protected override async Task<ResolvedTarget> BreakAsync()
    {
        var id = await Moto.RunInstanceAsync();
        await Moto.StopInstanceAsync(id);
        return Moto.Instance("web-1", id);
    }

    protected override ResolvedTarget Unreachable() => Moto.Instance("web-1", "i-0123456789abcdef0", Moto.Nowhere());

    protected override bool Healed(double reading) => reading is (int)Ec2State.Pending or (int)Ec2State.Running;

    public override Task DisposeAsync()
    {
        _clients.Dispose();
        return base.DisposeAsync();
    }
}

/// <summary><c>aws.autoscaling.set-desired-capacity</c> on a group of the moto server (min 1, max 4, desired 1) scaled to 3; the rollback sets 1 again.</summary>
public sealed class SetDesiredCapacityContract : AdapterContractTests
{
    private readonly AwsClients _clients = Moto.Clients();

    protected override IRemediationExecutor Action => new SetDesiredCapacityAction(_clients);
    protected override IProbe Probe => new DesiredCapacityProbe(_clients);
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["DesiredCapacity"] = "3" };
    protected override string Secret => Moto.SecretKey;

    protected override async Task<ResolvedTarget> BreakAsync() => Moto.Group("orders-fleet", await Moto.CreateGroupAsync(min: 1, max: 4, desired: 1));

    protected override ResolvedTarget Unreachable() => Moto.Group("orders-fleet", "orders-fleet", Moto.Nowhere());

    protected override bool Healed(double reading) => reading == 3;

    public override Task DisposeAsync()
    {
        _clients.Dispose();
        return base.DisposeAsync();
    }
}
