using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Verify;

namespace Grace.Engine.Adapters.Aws;

/// <summary>Reading a group through the target's Auto Scaling client.</summary>
public static class AutoScalingGroups
{
    public static Task<AutoScalingGroupState> ReadAsync(AwsClients clients, AutoScalingGroupTarget target, CancellationToken cancellationToken) =>
        clients.AutoScalingAsync(target.Aws, "DescribeAutoScalingGroups", AwsClients.ReadLimit, async (api, ct) =>
            await api.DescribeGroupAsync(target.GroupName, ct)
            ?? throw new AwsCallException($"Auto Scaling group '{target.GroupName}' does not exist in {target.Aws.Where}.", transient: false), cancellationToken);

    /// <summary>Sets the desired capacity, refusing (as AWS would, and as test servers do not) a value outside the group's MinSize and MaxSize.</summary>
    public static async Task<string> SetDesiredAsync(AwsClients clients, AutoScalingGroupTarget target, int desired, bool honorCooldown, string what, CancellationToken cancellationToken)
    {
        var group = await ReadAsync(clients, target, cancellationToken);
        if (desired < group.MinSize || desired > group.MaxSize)
        {
            throw new ActionRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"{what} {desired} is outside the range of Auto Scaling group '{target.GroupName}' (MinSize {group.MinSize}, MaxSize {group.MaxSize}): AWS refuses it. Nothing was changed."));
        }

        if (desired == group.DesiredCapacity)
        {
            return string.Create(CultureInfo.InvariantCulture, $"Group '{target.GroupName}' already wants {desired} instances; nothing was changed.");
        }

        await clients.AutoScalingAsync(target.Aws, "SetDesiredCapacity", AwsClients.WriteLimit, async (api, ct) =>
        {
            await api.SetDesiredCapacityAsync(target.GroupName, desired, honorCooldown, ct);
            return true;
        }, cancellationToken);
        return string.Create(CultureInfo.InvariantCulture, $"Group '{target.GroupName}': desired capacity {group.DesiredCapacity} → {desired} (min {group.MinSize}, max {group.MaxSize}).");
    }
}

/// <summary>The parameters of <c>aws.autoscaling.set-desired-capacity</c>.</summary>
public sealed class SetDesiredCapacityParameters
{
    /// <summary>How many instances the group should run; it must lie within the group's MinSize and MaxSize when the action runs.</summary>
    [Required(ErrorMessage = "is required (how many instances the group should run).")]
    [Range(0, 100_000, ErrorMessage = "must be a whole number of instances between 0 and 100000.")]
    public int? DesiredCapacity { get; init; }

    /// <summary>Let AWS refuse the change while the group is in a cooldown (after a scaling activity).</summary>
    public bool HonorCooldown { get; init; }
}

/// <summary>
/// <c>aws.autoscaling.set-desired-capacity</c>: scales an Auto Scaling group out or in by setting
/// its desired capacity; the snapshot keeps the old value, which the rollback sets again. A value
/// outside the group's MinSize and MaxSize is refused before anything is sent. An approval holds
/// for the group's capacity as the approvers saw it: its desired capacity or its bounds changed
/// since (a scaling policy, a person) need a new decision. Instances coming and going do not.
/// </summary>
public sealed class SetDesiredCapacityAction(AwsClients clients) : RemediationAction<SetDesiredCapacityParameters>
{
    public override string Action => "aws.autoscaling.set-desired-capacity";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(AutoScalingGroupKind.Id);
    public override bool CanRollback => true;

    private static AutoScalingGroupTarget Target(ActionRequest request) => request.Target.Settings<AutoScalingGroupTarget>();

    protected override string Describe(ActionRequest request, SetDesiredCapacityParameters p)
    {
        var unless = p.HonorCooldown ? " (unless it is cooling down)" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"Sets the desired capacity of Auto Scaling group '{Target(request).GroupName}' in {Target(request).Aws.Where} to {p.DesiredCapacity}{unless}; the rollback sets the previous value again.");
    }

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, SetDesiredCapacityParameters p, CancellationToken cancellationToken)
    {
        var group = await AutoScalingGroups.ReadAsync(clients, Target(request), cancellationToken);
        var capacity = new GroupCapacity(group.Name, group.DesiredCapacity, group.MinSize, group.MaxSize);
        return Consent.Snapshot(JsonSerializer.Serialize(capacity), $"Group '{group.Name}': {group.Describe()}.", capacity, capacity.Describe());
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<GroupCapacity>(approved) is { } was && Consent.Read<GroupCapacity>(current) is { } now
            ? $"group '{now.Group}' is at {now.Describe()} now; the approvers saw {was.Describe()}"
            : Consent.Compare(approved, current);

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, SetDesiredCapacityParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var message = await AutoScalingGroups.SetDesiredAsync(clients, Target(request), p.DesiredCapacity!.Value, p.HonorCooldown, "Parameters:DesiredCapacity", cancellationToken);
        return new ActionResult(message, JsonSerializer.Serialize(new { desiredCapacity = p.DesiredCapacity, previous = JsonSerializer.Deserialize<GroupCapacity>(snapshot.State)!.Desired }));
    }

    protected override Task<string> RollbackAsync(ActionRequest request, SetDesiredCapacityParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var before = JsonSerializer.Deserialize<GroupCapacity>(snapshot.State)!;
        // The cooldown never holds a rollback back: putting the group back is why it runs.
        return AutoScalingGroups.SetDesiredAsync(clients, Target(request), before.Desired, honorCooldown: false, "The previous desired capacity", cancellationToken);
    }

    /// <summary>What the action depends on, and what its rollback restores: the group's desired capacity and its bounds.</summary>
    internal sealed record GroupCapacity(string Group, int Desired, int Min, int Max)
    {
        public string Describe() => string.Create(CultureInfo.InvariantCulture, $"desired {Desired} (min {Min}, max {Max})");
    }
}

/// <summary>
/// <c>aws.autoscaling.in-service</c>: how many of the group's instances are InService. A health
/// check of a group that must keep N instances serving: <c>GreaterThanOrEqual N</c>.
/// </summary>
public sealed class InServiceProbe(AwsClients clients) : Probe<NoParameters>
{
    public override string Key => "aws.autoscaling.in-service";
    public override string Unit => "instances";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(AutoScalingGroupKind.Id);

    protected override async Task<double> ReadAsync(ProbeRequest request, NoParameters p, CancellationToken cancellationToken) =>
        (await AutoScalingGroups.ReadAsync(clients, request.Target.Settings<AutoScalingGroupTarget>(), cancellationToken)).InService;
}

/// <summary><c>aws.autoscaling.desired-capacity</c>: the group's desired capacity.</summary>
public sealed class DesiredCapacityProbe(AwsClients clients) : Probe<NoParameters>
{
    public override string Key => "aws.autoscaling.desired-capacity";
    public override string Unit => "instances";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(AutoScalingGroupKind.Id);

    protected override async Task<double> ReadAsync(ProbeRequest request, NoParameters p, CancellationToken cancellationToken) =>
        (await AutoScalingGroups.ReadAsync(clients, request.Target.Settings<AutoScalingGroupTarget>(), cancellationToken)).DesiredCapacity;
}
