using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Grace.Data.Entities;
using Grace.Engine.Adapters.Unleash;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;

namespace Grace.Tests.Adapters.Unleash;

/// <summary>
/// The whole loop on a real Unleash server: errors from a feature become an incident, the playbook
/// throws the feature's kill switch off, and the contract holds once SDKs are served it off; the
/// tokens (the admin one from an environment variable) show nowhere Grace writes.
/// </summary>
public sealed class UnleashMissionTests : SqliteDatabaseTest
{
    private sealed class CapturingSink : ILogEventSink
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public void Emit(LogEvent logEvent) => Lines.Enqueue(logEvent.RenderMessage() + " " + logEvent.Exception);
    }

    [Fact]
    public async Task Errors_from_a_feature_turn_its_flag_off_in_unleash_as_clients_see_it_and_no_token_shows()
    {
        var clientToken = await UnleashServer.ClientTokenAsync();
        var flag = await UnleashServer.CreateFlagAsync(enabled: true);
        var logs = new CapturingSink();
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:flags:Kind"] = "Unleash",
            ["Grace:Targets:flags:Url"] = UnleashServer.Url.ToString(),
            // As an operator would: the admin token from the environment, never in a file.
            ["Grace:Targets:flags:AdminTokenVariable"] = "GRACE_TEST_UNLEASH_TOKEN",
            ["Grace:Targets:flags:ClientToken"] = clientToken,
            ["Grace:Targets:flags:Environment"] = UnleashServer.Environment,
            ["Grace:Patterns:new-checkout-failing:MessageRegex"] = "new checkout crashed",
            ["Grace:Patterns:new-checkout-failing:Playbooks:0"] = "kill-new-checkout",
            ["Grace:Playbooks:kill-new-checkout:Action"] = "unleash.set-flag",
            ["Grace:Playbooks:kill-new-checkout:Target"] = "flags",
            ["Grace:Playbooks:kill-new-checkout:Tier"] = "0",
            ["Grace:Playbooks:kill-new-checkout:Parameters:Flag"] = flag,
            ["Grace:Playbooks:kill-new-checkout:Parameters:Enabled"] = "false",
            ["Grace:Playbooks:kill-new-checkout:Contract:Probe"] = "unleash.flag-enabled",
            ["Grace:Playbooks:kill-new-checkout:Contract:Parameters:Flag"] = flag,
            ["Grace:Playbooks:kill-new-checkout:Contract:Comparator"] = "Equal",
            ["Grace:Playbooks:kill-new-checkout:Contract:Threshold"] = "0",
            ["Grace:Playbooks:kill-new-checkout:Contract:DeadlineSeconds"] = "30",
        }), s => s.AddSingleton<ILogEventSink>(logs)).Start();

        using (var client = host.IngestClient())
        {
            var response = await client.PostAsJsonAsync("/api/signals", new { source = "checkout-web", message = "new checkout crashed: NullReferenceException in PaymentStep", severity = "Error" });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "kill-new-checkout" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.Equal(0, mission.Contract!.ObservedValue);
        Assert.Contains(mission.Events, e => e.Kind == "executed" && e.Message.Contains($"Flag '{flag}' turned off in production (it was on)", StringComparison.Ordinal));
        var target = (UnleashTarget)UnleashServer.Target("flags", clientToken).KindSettings!;
        Assert.False((await UnleashServer.Api().ReadAsync(target, flag, default)).Enabled);

        await using var db = host.CreateDb();
        var snapshots = await db.Snapshots.AsNoTracking().ToListAsync();
        Assert.NotEmpty(snapshots);
        foreach (var secret in new[] { UnleashServer.AdminToken, clientToken })
        {
            Assert.DoesNotContain(mission.Events, e => e.Message.Contains(secret, StringComparison.Ordinal) || (e.Data ?? "").Contains(secret, StringComparison.Ordinal));
            Assert.DoesNotContain(logs.Lines, l => l.Contains(secret, StringComparison.Ordinal));
            Assert.DoesNotContain(snapshots, s => s.State.Contains(secret, StringComparison.Ordinal) || s.Summary.Contains(secret, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_mission_on_an_unleash_that_cannot_be_reached_fails_saying_so_and_never_hangs()
    {
        var port = TestCatalog.FreeLoopbackPort();
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:far-flags:Kind"] = "Unleash",
            ["Grace:Targets:far-flags:Url"] = $"http://127.0.0.1:{port}/",
            ["Grace:Targets:far-flags:AdminToken"] = "*:*.token-of-a-server-that-is-away",
            ["Grace:Targets:far-flags:ClientToken"] = "*:production.client-token-of-a-server-that-is-away",
            ["Grace:Targets:far-flags:Environment"] = "production",
            ["Grace:Patterns:far-checkout-failing:MessageRegex"] = "far checkout crashed",
            ["Grace:Patterns:far-checkout-failing:Playbooks:0"] = "kill-far-checkout",
            ["Grace:Patterns:far-checkout-failing:Escalation:Enabled"] = "false",
            ["Grace:Playbooks:kill-far-checkout:Action"] = "unleash.set-flag",
            ["Grace:Playbooks:kill-far-checkout:Target"] = "far-flags",
            ["Grace:Playbooks:kill-far-checkout:Tier"] = "0",
            ["Grace:Playbooks:kill-far-checkout:Parameters:Flag"] = "far-checkout",
            ["Grace:Playbooks:kill-far-checkout:Parameters:Enabled"] = "false",
            ["Grace:Playbooks:kill-far-checkout:Contract:Probe"] = "unleash.flag-enabled",
            ["Grace:Playbooks:kill-far-checkout:Contract:Parameters:Flag"] = "far-checkout",
            ["Grace:Playbooks:kill-far-checkout:Contract:Comparator"] = "Equal",
            ["Grace:Playbooks:kill-far-checkout:Contract:Threshold"] = "0",
        })).Start();

        using (var client = host.IngestClient())
        {
            var response = await client.PostAsJsonAsync("/api/signals", new { source = "checkout-web", message = "far checkout crashed", severity = "Error" });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "kill-far-checkout" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Failed, mission.State);
        Assert.Contains($"Unleash at http://127.0.0.1:{port} could not be reached while reading flag 'far-checkout'", mission.StatusReason, StringComparison.Ordinal);
        Assert.DoesNotContain(mission.Events, e => e.Kind == "executed");
        Assert.DoesNotContain("token-of-a-server-that-is-away", mission.StatusReason, StringComparison.Ordinal);
    }
}
