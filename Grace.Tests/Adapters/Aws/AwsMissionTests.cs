using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Grace.Data.Entities;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;

namespace Grace.Tests.Adapters.Aws;

/// <summary>
/// The whole loop on the moto server: an Auto Scaling group serving too few instances fails its
/// health check, the incident's playbook scales it out, and the contract sees the instances in
/// service; the AWS secret key shows nowhere Grace writes.
/// </summary>
public sealed class AwsMissionTests : SqliteDatabaseTest
{
    private sealed class CapturingSink : ILogEventSink
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public void Emit(LogEvent logEvent) => Lines.Enqueue(logEvent.RenderMessage() + " " + logEvent.Exception);
    }

    [Fact]
    public async Task A_group_below_its_healthy_size_is_scaled_out_by_a_mission_and_the_secret_key_shows_nowhere()
    {
        var group = await Moto.CreateGroupAsync(min: 1, max: 4, desired: 1);
        var logs = new CapturingSink();
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:orders-fleet:Kind"] = "AutoScalingGroup",
            ["Grace:Targets:orders-fleet:Region"] = Moto.Region,
            ["Grace:Targets:orders-fleet:Endpoint"] = Moto.Url.ToString(),
            ["Grace:Targets:orders-fleet:GroupName"] = group,
            ["Grace:Targets:orders-fleet:HealthCheck:Probe"] = "aws.autoscaling.in-service",
            ["Grace:Targets:orders-fleet:HealthCheck:Comparator"] = "GreaterThanOrEqual",
            ["Grace:Targets:orders-fleet:HealthCheck:Threshold"] = "2",
            ["Grace:Targets:orders-fleet:HealthCheck:IntervalSeconds"] = "1",
            ["Grace:Patterns:fleet-too-small:Source"] = "health:orders-fleet",
            ["Grace:Patterns:fleet-too-small:Playbooks:0"] = "scale-out-orders-fleet",
            ["Grace:Playbooks:scale-out-orders-fleet:Action"] = "aws.autoscaling.set-desired-capacity",
            ["Grace:Playbooks:scale-out-orders-fleet:Target"] = "orders-fleet",
            ["Grace:Playbooks:scale-out-orders-fleet:Tier"] = "0",
            ["Grace:Playbooks:scale-out-orders-fleet:Parameters:DesiredCapacity"] = "3",
            ["Grace:Playbooks:scale-out-orders-fleet:Contract:Probe"] = "aws.autoscaling.in-service",
            ["Grace:Playbooks:scale-out-orders-fleet:Contract:Comparator"] = "GreaterThanOrEqual",
            ["Grace:Playbooks:scale-out-orders-fleet:Contract:Threshold"] = "3",
            ["Grace:Playbooks:scale-out-orders-fleet:Contract:DeadlineSeconds"] = "20",
        }), s => s.AddSingleton<ILogEventSink>(logs)).Start();

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "scale-out-orders-fleet" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.Equal(3, mission.Contract!.ObservedValue);
        Assert.Contains(mission.Events, e => e.Kind == "executed" && e.Message.Contains($"Group '{group}': desired capacity 1 → 3 (min 1, max 4).", StringComparison.Ordinal));
        Assert.Equal(3, await new Grace.Engine.Adapters.Aws.DesiredCapacityProbe(host.Get<Grace.Engine.Adapters.Aws.AwsClients>())
            .ReadAsync(new Grace.Engine.Verify.ProbeRequest(Moto.Group("orders-fleet", group), new Dictionary<string, string>(), null), default));

        var secret = Moto.SecretKey;
        Assert.DoesNotContain(mission.Events, e => e.Message.Contains(secret, StringComparison.Ordinal) || (e.Data ?? "").Contains(secret, StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Lines, l => l.Contains(secret, StringComparison.Ordinal));
        await using var db = host.CreateDb();
        Assert.DoesNotContain(await db.Snapshots.ToListAsync(), s => s.State.Contains(secret, StringComparison.Ordinal) || s.Summary.Contains(secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_mission_on_an_endpoint_that_cannot_be_reached_fails_saying_so_and_never_hangs()
    {
        var nowhere = Moto.Nowhere();
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:far-fleet:Kind"] = "AutoScalingGroup",
            ["Grace:Targets:far-fleet:Region"] = Moto.Region,
            ["Grace:Targets:far-fleet:Endpoint"] = nowhere.ToString(),
            ["Grace:Targets:far-fleet:GroupName"] = "far-fleet",
            ["Grace:Patterns:far-fleet-small:MessageRegex"] = "far fleet too small",
            ["Grace:Patterns:far-fleet-small:Playbooks:0"] = "scale-out-far-fleet",
            ["Grace:Patterns:far-fleet-small:Escalation:Enabled"] = "false",
            ["Grace:Playbooks:scale-out-far-fleet:Action"] = "aws.autoscaling.set-desired-capacity",
            ["Grace:Playbooks:scale-out-far-fleet:Target"] = "far-fleet",
            ["Grace:Playbooks:scale-out-far-fleet:Tier"] = "0",
            ["Grace:Playbooks:scale-out-far-fleet:Parameters:DesiredCapacity"] = "3",
            ["Grace:Playbooks:scale-out-far-fleet:Contract:Probe"] = "aws.autoscaling.in-service",
            ["Grace:Playbooks:scale-out-far-fleet:Contract:Comparator"] = "GreaterThanOrEqual",
            ["Grace:Playbooks:scale-out-far-fleet:Contract:Threshold"] = "3",
        })).Start();

        using (var client = host.IngestClient())
        {
            var response = await client.PostAsJsonAsync("/api/signals", new { source = "orders-api", message = "far fleet too small for the evening peak", severity = "Error" });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "scale-out-far-fleet" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Failed, mission.State);
        Assert.Contains($"Auto Scaling DescribeAutoScalingGroups could not reach AWS at http://127.0.0.1:{nowhere.Port} (us-east-1)", mission.StatusReason, StringComparison.Ordinal);
        Assert.DoesNotContain(mission.Events, e => e.Kind == "executed");
    }
}
