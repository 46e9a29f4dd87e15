using System.Text.Json;
using Amazon.EC2.Model;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;

namespace Grace.Engine.Adapters.Aws;

/// <summary>
/// The state of an EC2 instance, by the code EC2 gives it (the low byte of <c>State.Code</c>), which
/// is also what <c>aws.ec2.instance-state</c> reads, so a contract says <c>Equal 16</c> for running.
/// </summary>
public enum Ec2State
{
    Pending = 0,
    Running = 16,
    ShuttingDown = 32,
    Terminated = 48,
    Stopping = 64,
    Stopped = 80,
}

/// <summary>An instance as Grace reads it before acting.</summary>
public sealed record Ec2InstanceView(string InstanceId, Ec2State State, string? InstanceType, string? Zone)
{
    /// <summary>States EC2 is still moving the instance through: acting now would be refused.</summary>
    public bool InTransition => State is Ec2State.Pending or Ec2State.Stopping or Ec2State.ShuttingDown;

    public string StateWords => Words(State);

    public static string Words(Ec2State state) => state switch
    {
        Ec2State.ShuttingDown => "shutting down",
        _ => state.ToString().ToLowerInvariant(),
    };
}

/// <summary>Reading and waiting on one instance through the target's EC2 client.</summary>
public static class Ec2Instances
{
    public static Task<Ec2InstanceView> ReadAsync(AwsClients clients, Ec2InstanceTarget target, CancellationToken cancellationToken) =>
        clients.Ec2Async(target.Aws, "DescribeInstances", AwsClients.ReadLimit, async (ec2, ct) =>
        {
            var response = await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = [target.InstanceId] }, ct);
            var instance = (response.Reservations ?? []).SelectMany(r => r.Instances ?? []).FirstOrDefault(i => i.InstanceId == target.InstanceId)
                ?? throw new AwsCallException($"EC2 instance {target.InstanceId} does not exist in {target.Aws.Where}.", transient: false);
            return new Ec2InstanceView(instance.InstanceId, StateOf(instance.State), instance.InstanceType?.Value, instance.Placement?.AvailabilityZone);
        }, cancellationToken);

    /// <summary>Reads until EC2 has finished moving the instance (not pending, stopping or shutting down); the caller's time limit bounds the wait.</summary>
    public static async Task<Ec2InstanceView> SettledAsync(AwsClients clients, Ec2InstanceTarget target, CancellationToken cancellationToken)
    {
        for (; ; await clients.PauseAsync(cancellationToken))
        {
            var view = await ReadAsync(clients, target, cancellationToken);
            if (!view.InTransition)
            {
                return view;
            }
        }
    }

    /// <summary>Asks EC2 to start the instance.</summary>
    public static Task<string> StartAsync(AwsClients clients, Ec2InstanceTarget target, CancellationToken cancellationToken) =>
        clients.Ec2Async(target.Aws, "StartInstances", AwsClients.WriteLimit, async (ec2, ct) =>
        {
            var response = await ec2.StartInstancesAsync(new StartInstancesRequest { InstanceIds = [target.InstanceId] }, ct);
            return Change(target, "Start", response.StartingInstances);
        }, cancellationToken);

    /// <summary>Asks EC2 to stop the instance (<paramref name="force"/>: without flushing caches, as a last resort).</summary>
    public static Task<string> StopAsync(AwsClients clients, Ec2InstanceTarget target, bool force, CancellationToken cancellationToken) =>
        clients.Ec2Async(target.Aws, "StopInstances", AwsClients.WriteLimit, async (ec2, ct) =>
        {
            var response = await ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [target.InstanceId], Force = force }, ct);
            return Change(target, force ? "Forced stop" : "Stop", response.StoppingInstances);
        }, cancellationToken);

    public static Ec2State StateOf(InstanceState? state) =>
        state?.Code is { } code ? (Ec2State)(code & 0xFF) : throw new AwsCallException("EC2 answered an instance without a state.", transient: false);

    private static string Change(Ec2InstanceTarget target, string what, List<InstanceStateChange>? changes) =>
        changes?.FirstOrDefault(c => c.InstanceId == target.InstanceId) is { } change
            ? $"{what} of {target.InstanceId} accepted: {Ec2InstanceView.Words(StateOf(change.PreviousState))} → {Ec2InstanceView.Words(StateOf(change.CurrentState))}."
            : $"{what} of {target.InstanceId} accepted.";
}

/// <summary>
/// What the EC2 actions share: the snapshot (the instance's state, which is also what an approval
/// holds for: an instance stopped, started or terminated by someone else since needs a new decision)
/// and its words.
/// </summary>
public abstract class Ec2InstanceAction<TParameters>(AwsClients clients) : RemediationAction<TParameters> where TParameters : class, new()
{
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(Ec2InstanceKind.Id);

    protected AwsClients Clients => clients;

    protected static Ec2InstanceTarget Target(ActionRequest request) => request.Target.Settings<Ec2InstanceTarget>();

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, TParameters parameters, CancellationToken cancellationToken)
    {
        var view = await Ec2Instances.ReadAsync(clients, Target(request), cancellationToken);
        var basis = new InstanceState(view.InstanceId, view.State);
        return Consent.Snapshot(JsonSerializer.Serialize(basis),
            $"Instance {view.InstanceId} ({view.InstanceType ?? "type unknown"}, {view.Zone ?? "zone unknown"}) is {view.StateWords}.", basis, basis.Describe());
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<InstanceState>(approved) is { } was && Consent.Read<InstanceState>(current) is { } now
            ? $"instance {now.InstanceId} is {Ec2InstanceView.Words(now.State)} now; the approvers saw it {Ec2InstanceView.Words(was.State)}"
            : Consent.Compare(approved, current);

    /// <summary>The state the snapshot recorded.</summary>
    protected static InstanceState Recorded(SnapshotState snapshot) => JsonSerializer.Deserialize<InstanceState>(snapshot.State)!;

    /// <summary>What an EC2 action depends on, and what its rollback restores: the instance's state.</summary>
    protected internal sealed record InstanceState(string InstanceId, Ec2State State)
    {
        public string Describe() => $"instance {InstanceId} {Ec2InstanceView.Words(State)}";
    }
}

/// <summary>
/// <c>aws.ec2.reboot</c>: asks EC2 to reboot a running instance in place (same host, same
/// addresses). A reboot cannot be undone; a stopped instance is refused (start it instead).
/// </summary>
public sealed class Ec2RebootAction(AwsClients clients) : Ec2InstanceAction<NoParameters>(clients)
{
    public override string Action => "aws.ec2.reboot";
    public override bool CanRollback => false;

    protected override string Describe(ActionRequest request, NoParameters p) =>
        $"Reboots EC2 instance {Target(request).InstanceId} in {Target(request).Aws.Where}: the operating system restarts on the same host; it cannot be undone.";

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, NoParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var target = Target(request);
        var state = Recorded(snapshot).State;
        if (state is not Ec2State.Running)
        {
            throw new ActionRefusedException($"Instance {target.InstanceId} is {Ec2InstanceView.Words(state)}: only a running instance can be rebooted (aws.ec2.start starts a stopped one).");
        }

        await Clients.Ec2Async(target.Aws, "RebootInstances", AwsClients.WriteLimit,
            (ec2, ct) => ec2.RebootInstancesAsync(new RebootInstancesRequest { InstanceIds = [target.InstanceId] }, ct), cancellationToken);
        return new ActionResult($"Reboot of {target.InstanceId} accepted: EC2 restarts its operating system in place.");
    }
}

/// <summary>The parameters of <c>aws.ec2.stop</c>.</summary>
public sealed class Ec2StopParameters
{
    /// <summary>Stop without letting the instance flush its file system caches: a last resort for an instance stuck stopping.</summary>
    public bool Force { get; init; }
}

/// <summary>
/// <c>aws.ec2.stop</c>: stops a running instance (its EBS volumes stay; its public address may
/// change when it starts again). The rollback starts it again once it has stopped, if it was running
/// before. An instance already stopping or stopped is left as it is.
/// </summary>
public sealed class Ec2StopAction(AwsClients clients) : Ec2InstanceAction<Ec2StopParameters>(clients)
{
    public override string Action => "aws.ec2.stop";
    public override bool CanRollback => true;

    protected override string Describe(ActionRequest request, Ec2StopParameters p) =>
        $"{(p.Force ? "Force-stops" : "Stops")} EC2 instance {Target(request).InstanceId} in {Target(request).Aws.Where}; the rollback starts it again.";

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, Ec2StopParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var target = Target(request);
        var state = Recorded(snapshot).State;
        return state switch
        {
            Ec2State.Stopped or Ec2State.Stopping => new ActionResult($"Instance {target.InstanceId} is already {Ec2InstanceView.Words(state)}; nothing was done."),
            Ec2State.Terminated or Ec2State.ShuttingDown => throw new ActionRefusedException($"Instance {target.InstanceId} is {Ec2InstanceView.Words(state)}: it cannot be stopped."),
            _ => new ActionResult(await Ec2Instances.StopAsync(Clients, target, p.Force, cancellationToken)),
        };
    }

    protected override async Task<string> RollbackAsync(ActionRequest request, Ec2StopParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var target = Target(request);
        if (Recorded(snapshot).State is not (Ec2State.Running or Ec2State.Pending))
        {
            return $"Instance {target.InstanceId} was {Ec2InstanceView.Words(Recorded(snapshot).State)} before; nothing to restore.";
        }

        // EC2 refuses to start an instance that is still stopping: wait for it to stop first.
        var now = await Ec2Instances.SettledAsync(Clients, target, cancellationToken);
        return now.State switch
        {
            Ec2State.Running => $"Instance {target.InstanceId} is running again; nothing to restore.",
            Ec2State.Stopped => await Ec2Instances.StartAsync(Clients, target, cancellationToken),
            _ => throw new ActionRefusedException($"Instance {target.InstanceId} is {now.StateWords}: it cannot be started again."),
        };
    }
}

/// <summary>
/// <c>aws.ec2.start</c>: starts a stopped instance (waiting first for one still stopping). The
/// rollback stops it again once it is running, if it was stopped before. A running instance is
/// left as it is.
/// </summary>
public sealed class Ec2StartAction(AwsClients clients) : Ec2InstanceAction<NoParameters>(clients)
{
    public override string Action => "aws.ec2.start";
    public override bool CanRollback => true;

    protected override string Describe(ActionRequest request, NoParameters p) =>
        $"Starts EC2 instance {Target(request).InstanceId} in {Target(request).Aws.Where}; the rollback stops it again.";

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, NoParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var target = Target(request);
        var state = Recorded(snapshot).State;
        if (state is Ec2State.Stopping)
        {
            state = (await Ec2Instances.SettledAsync(Clients, target, cancellationToken)).State;
        }

        return state switch
        {
            Ec2State.Running or Ec2State.Pending => new ActionResult($"Instance {target.InstanceId} is already {Ec2InstanceView.Words(state)}; nothing was done."),
            Ec2State.Stopped => new ActionResult(await Ec2Instances.StartAsync(Clients, target, cancellationToken)),
            _ => throw new ActionRefusedException($"Instance {target.InstanceId} is {Ec2InstanceView.Words(state)}: it cannot be started."),
        };
    }

    protected override async Task<string> RollbackAsync(ActionRequest request, NoParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var target = Target(request);
        if (Recorded(snapshot).State is not (Ec2State.Stopped or Ec2State.Stopping))
        {
            return $"Instance {target.InstanceId} was {Ec2InstanceView.Words(Recorded(snapshot).State)} before; nothing to restore.";
        }

        // An instance still pending cannot be stopped cleanly: wait for it to run first.
        var now = await Ec2Instances.SettledAsync(Clients, target, cancellationToken);
        return now.State switch
        {
            Ec2State.Stopped => $"Instance {target.InstanceId} is stopped again; nothing to restore.",
            Ec2State.Running => await Ec2Instances.StopAsync(Clients, target, force: false, cancellationToken),
            _ => throw new ActionRefusedException($"Instance {target.InstanceId} is {now.StateWords}: it cannot be stopped again."),
        };
    }
}

/// <summary>
/// <c>aws.ec2.instance-state</c>: the instance's state code (0 pending, 16 running, 32 shutting
/// down, 48 terminated, 64 stopping, 80 stopped). A health check of a server that must run:
/// <c>Equal 16</c>.
/// </summary>
public sealed class Ec2InstanceStateProbe(AwsClients clients) : Probe<NoParameters>
{
    public override string Key => "aws.ec2.instance-state";
    public override string Unit => "state code";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(Ec2InstanceKind.Id);

    protected override async Task<double> ReadAsync(ProbeRequest request, NoParameters p, CancellationToken cancellationToken) =>
        (int)(await Ec2Instances.ReadAsync(clients, request.Target.Settings<Ec2InstanceTarget>(), cancellationToken)).State;
}
