using System.Net;
using System.Net.Sockets;
using Grace.Engine.Adapters.Aws;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Polly.Timeout;

namespace Grace.Tests.Adapters.Aws;

/// <summary>The AWS actions on the moto server: what the contract suite does not cover.</summary>
public sealed class AwsAdapterTests : IDisposable
{
    private readonly AwsClients _clients = Moto.Clients();

    public void Dispose() => _clients.Dispose();

    private static ActionRequest Request(ResolvedTarget target, Dictionary<string, string>? parameters = null) =>
        new(Guid.NewGuid(), target, parameters ?? []);

    private Task<double> StateAsync(ResolvedTarget target) =>
        new Ec2InstanceStateProbe(_clients).ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default);

    [Fact]
    public async Task A_running_instance_is_rebooted_and_a_stopped_one_is_refused_saying_why()
    {
        var reboot = new Ec2RebootAction(_clients);
        var running = Moto.Instance("web-1", await Moto.RunInstanceAsync());
        var request = Request(running);
        var result = await reboot.ExecuteAsync(request, await reboot.SnapshotAsync(request, default), default);
        Assert.Contains("Reboot of", result.Message, StringComparison.Ordinal);
        Assert.Equal((int)Ec2State.Running, await StateAsync(running));
        Assert.False(reboot.CanRollback);

        var id = await Moto.RunInstanceAsync();
        await Moto.StopInstanceAsync(id);
        var stopped = Request(Moto.Instance("web-2", id));
        var refused = await Assert.ThrowsAsync<ActionRefusedException>(async () => await reboot.ExecuteAsync(stopped, await reboot.SnapshotAsync(stopped, default), default));
        Assert.Contains($"Instance {id} is stopped: only a running instance can be rebooted", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_desired_capacity_outside_the_groups_range_is_refused_before_aws_is_asked()
    {
        // moto would accept 9 for a group of at most 4; AWS would not, so Grace refuses it first.
        var group = await Moto.CreateGroupAsync(min: 1, max: 4, desired: 2);
        var target = Moto.Group("orders-fleet", group);
        var action = new SetDesiredCapacityAction(_clients);
        var request = Request(target, new() { ["DesiredCapacity"] = "9" });
        Assert.Empty(action.ValidateParameters(request.Parameters));
        var snapshot = await action.SnapshotAsync(request, default);

        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => action.ExecuteAsync(request, snapshot, default));
        Assert.Contains($"Parameters:DesiredCapacity 9 is outside the range of Auto Scaling group '{group}' (MinSize 1, MaxSize 4)", refused.Message, StringComparison.Ordinal);
        var desired = await new DesiredCapacityProbe(_clients).ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default);
        Assert.Equal(2, desired);
    }

    [Fact]
    public async Task A_group_scaled_by_someone_else_since_the_approval_voids_it_in_the_groups_terms()
    {
        var group = await Moto.CreateGroupAsync(min: 1, max: 4, desired: 1);
        var action = new SetDesiredCapacityAction(_clients);
        var request = Request(Moto.Group("orders-fleet", group), new() { ["DesiredCapacity"] = "3" });
        var approved = await action.SnapshotAsync(request, default);
        Assert.Equal("desired 1 (min 1, max 4)", approved.ApprovedAgainst);

        await Moto.SetDesiredAsync(group, 2);
        var now = await action.SnapshotAsync(request, default);
        Assert.NotEqual(approved.DriftKey, now.DriftKey);
        Assert.Equal($"group '{group}' is at desired 2 (min 1, max 4) now; the approvers saw desired 1 (min 1, max 4)", action.DescribeDrift(approved, now));
    }

    [Fact]
    public async Task An_instance_stopped_by_someone_else_since_the_approval_voids_it_in_the_instances_terms()
    {
        var id = await Moto.RunInstanceAsync();
        var action = new Ec2RebootAction(_clients);
        var request = Request(Moto.Instance("web-1", id));
        var approved = await action.SnapshotAsync(request, default);
        Assert.Equal($"instance {id} running", approved.ApprovedAgainst);
        Assert.Equal(approved.DriftKey, (await action.SnapshotAsync(request, default)).DriftKey);

        await Moto.StopInstanceAsync(id);
        var now = await action.SnapshotAsync(request, default);
        Assert.NotEqual(approved.DriftKey, now.DriftKey);
        Assert.Equal($"instance {id} is stopped now; the approvers saw it running", action.DescribeDrift(approved, now));
    }

    [Fact]
    public async Task An_in_service_probe_counts_the_groups_serving_instances()
    {
        var group = await Moto.CreateGroupAsync(min: 0, max: 4, desired: 3);
        var reading = await new InServiceProbe(_clients).ReadAsync(new ProbeRequest(Moto.Group("orders-fleet", group), new Dictionary<string, string>(), null), default);
        Assert.Equal(3, reading);
    }

    [Fact]
    public async Task An_endpoint_that_never_answers_fails_the_snapshot_with_its_own_reason_before_graces_timeout()
    {
        // Accepts connections and never answers: the worst kind of unreachable.
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        try
        {
            var endpoint = new Uri($"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/");
            var action = new SetDesiredCapacityAction(_clients);
            var request = Request(Moto.Group("orders-fleet", "orders-fleet", endpoint), new() { ["DesiredCapacity"] = "2" });
            using var services = TestResilience.Services();
            // The pipeline the engine takes snapshots through: its own timeout would end in a TimeoutRejectedException naming no call.
            var pipeline = services.GetRequiredService<ActionResilience>().ForProbe("orders-fleet");
            var failure = await Record.ExceptionAsync(async () => await pipeline.ExecuteAsync(async ct => await action.SnapshotAsync(request, ct)));

            Assert.IsNotType<TimeoutRejectedException>(failure);
            var call = Assert.IsType<AwsCallException>(failure);
            // An InvalidOperationException is what makes the engine fail the mission rather than retry it forever.
            Assert.IsAssignableFrom<InvalidOperationException>(call);
            Assert.Equal($"Auto Scaling DescribeAutoScalingGroups got no answer from AWS at http://127.0.0.1:{endpoint.Port} (us-east-1) within 4 s.", call.Message);
        }
        finally
        {
            silent.Stop();
        }
    }

    [Fact]
    public async Task An_endpoint_that_refuses_connections_fails_saying_it_could_not_be_reached_and_is_worth_a_retry()
    {
        var action = new Ec2StopAction(_clients);
        var nowhere = Moto.Nowhere();
        var request = Request(Moto.Instance("web-1", "i-0123456789abcdef0", nowhere));
        var failure = await Assert.ThrowsAsync<AwsCallException>(() => action.SnapshotAsync(request, default));
        Assert.StartsWith($"EC2 DescribeInstances could not reach AWS at http://127.0.0.1:{nowhere.Port} (us-east-1):", failure.Message, StringComparison.Ordinal);
        Assert.True(new Ec2InstanceKind().IsTransient(failure));
        Assert.DoesNotContain(Moto.SecretKey, failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_instance_that_does_not_exist_is_named_and_not_retried()
    {
        var request = Request(Moto.Instance("web-1", "i-0123456789abcdef0"));
        var failure = await Assert.ThrowsAsync<AwsCallException>(() => new Ec2StartAction(_clients).SnapshotAsync(request, default));
        Assert.Contains("i-0123456789abcdef0", failure.Message, StringComparison.Ordinal);
        Assert.False(failure.Transient);
    }

    [Theory]
    [InlineData("Throttling", 400, true)]
    [InlineData("RequestLimitExceeded", 503, true)]
    [InlineData("InternalError", 500, true)]
    [InlineData(null, 502, true)]
    [InlineData("UnauthorizedOperation", 403, false)]
    [InlineData("ValidationError", 400, false)]
    [InlineData("InvalidInstanceID.NotFound", 400, false)]
    public void Throttling_and_awss_own_failures_are_transient_and_refusals_are_not(string? code, int status, bool transient)
    {
        Assert.Equal(transient, AwsErrors.IsTransient(code, status));
        var explained = AwsErrors.Answered("EC2 StopInstances", Moto.Connection, code ?? "Unknown", "says AWS", status);
        Assert.Equal(transient, new AutoScalingGroupKind().IsTransient(explained));
    }
}
