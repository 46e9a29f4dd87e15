using System.Net;
using System.Net.Sockets;
using Grace.Engine.Adapters.Unleash;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;

namespace Grace.Tests.Adapters.Unleash;

/// <summary>The Unleash action and probe on a real Unleash server: what the contract suite does not cover.</summary>
public sealed class UnleashAdapterTests
{
    private readonly UnleashApi _api = UnleashServer.Api();

    private static ActionRequest Request(ResolvedTarget target, string flag, bool enabled) =>
        new(Guid.NewGuid(), target, new Dictionary<string, string> { ["Flag"] = flag, ["Enabled"] = enabled ? "true" : "false" });

    [Fact]
    public async Task A_flag_turned_on_is_served_on_and_the_rollback_turns_it_off_again()
    {
        var target = UnleashServer.Target("flags", await UnleashServer.ClientTokenAsync());
        var flag = await UnleashServer.CreateFlagAsync(enabled: false);
        var action = new SetUnleashFlagAction(_api);
        var request = Request(target, flag, enabled: true);

        var snapshot = await action.SnapshotAsync(request, default);
        Assert.Equal($"flag '{flag}' off in production", snapshot.ApprovedAgainst);
        var result = await action.ExecuteAsync(request, snapshot, default);
        Assert.StartsWith($"Flag '{flag}' turned on in production (it was off)", result.Message, StringComparison.Ordinal);
        Assert.True((await _api.ReadAsync((UnleashTarget)target.KindSettings!, flag, default)).Enabled);
        await UnleashServer.ServedAsync(target, flag, enabled: true);
        Assert.Equal(1, await new UnleashFlagProbe(_api).ReadAsync(new ProbeRequest(target, new Dictionary<string, string> { ["Flag"] = flag }, null), default));

        Assert.Equal($"Flag '{flag}' is off again in production, as before.", await action.RollbackAsync(request, snapshot, default));
        Assert.False((await _api.ReadAsync((UnleashTarget)target.KindSettings!, flag, default)).Enabled);
    }

    [Fact]
    public async Task A_flag_turned_by_someone_else_since_the_approval_voids_it_in_the_flags_terms()
    {
        var target = UnleashServer.Target("flags", await UnleashServer.ClientTokenAsync());
        var flag = await UnleashServer.CreateFlagAsync(enabled: true);
        var action = new SetUnleashFlagAction(_api);
        var request = Request(target, flag, enabled: false);
        var approved = await action.SnapshotAsync(request, default);

        await UnleashServer.SetAsync(flag, false);
        var now = await action.SnapshotAsync(request, default);
        Assert.NotEqual(approved.DriftKey, now.DriftKey);
        Assert.Equal($"flag '{flag}' was turned off in production since the approvers saw it on", action.DescribeDrift(approved, now));
    }

    [Fact]
    public async Task A_flag_that_does_not_exist_fails_the_snapshot_naming_it_and_is_not_retried()
    {
        var target = UnleashServer.Target("flags", await UnleashServer.ClientTokenAsync());
        var failure = await Assert.ThrowsAsync<UnleashCallException>(() => new SetUnleashFlagAction(_api).SnapshotAsync(Request(target, "no-such-flag", false), default));
        Assert.Contains("found nothing (404) while reading flag 'no-such-flag' in project 'default'", failure.Message, StringComparison.Ordinal);
        Assert.False(new UnleashKind().IsTransient(failure));
    }

    [Fact]
    public async Task A_refused_admin_token_is_said_without_showing_it()
    {
        var wrong = "*:*.not-the-right-token-" + Guid.NewGuid().ToString("N");
        var target = UnleashServer.Target("flags", await UnleashServer.ClientTokenAsync(), adminToken: wrong);
        var failure = await Assert.ThrowsAsync<UnleashCallException>(() => new SetUnleashFlagAction(_api).SnapshotAsync(Request(target, "any-flag", false), default));
        Assert.Contains("refused the admin token (401)", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, failure.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, target.ToString() + target.KindSettings, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_token_of_another_environment_is_refused_by_the_probe_saying_so()
    {
        var flag = await UnleashServer.CreateFlagAsync(enabled: true);
        var target = UnleashServer.Target("flags", await UnleashServer.CreateBackendTokenAsync("development"));
        var failure = await Assert.ThrowsAsync<UnleashCallException>(() =>
            new UnleashFlagProbe(_api).ReadAsync(new ProbeRequest(target, new Dictionary<string, string> { ["Flag"] = flag }, null), default));
        Assert.Equal("The ClientToken of this target reads environment 'development', and its Environment is 'production': give it a token of 'production'.", failure.Message);
    }

    [Fact]
    public async Task A_server_that_never_answers_fails_within_the_calls_limit_saying_so()
    {
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        try
        {
            var port = ((IPEndPoint)silent.LocalEndpoint).Port;
            var target = UnleashServer.Target("flags", "*:production.client", new Uri($"http://127.0.0.1:{port}/"));
            var failure = await Assert.ThrowsAsync<UnleashCallException>(() => new SetUnleashFlagAction(_api).SnapshotAsync(Request(target, "checkout", false), default));
            Assert.Equal($"Unleash at http://127.0.0.1:{port} did not answer within 4 s while reading flag 'checkout'.", failure.Message);
        }
        finally
        {
            silent.Stop();
        }
    }

    [Theory]
    [InlineData(503, true)]
    [InlineData(500, true)]
    [InlineData(429, true)]
    [InlineData(401, false)]
    [InlineData(403, false)]
    [InlineData(404, false)]
    [InlineData(400, false)]
    public async Task A_busy_or_failing_server_is_worth_a_retry_and_a_refusal_is_not(int status, bool transient)
    {
        // A loopback stand-in answering one status, as an Unleash behind a proxy might: the real
        // server cannot be made to answer 503 or 429 on demand.
        using var stub = new HttpListener();
        var port = TestCatalog.FreeLoopbackPort();
        stub.Prefixes.Add($"http://127.0.0.1:{port}/");
        stub.Start();
        var answering = Task.Run(async () =>
        {
            var context = await stub.GetContextAsync();
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            var body = System.Text.Encoding.UTF8.GetBytes("{\"message\":\"the stand-in says no\"}");
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        });

        var target = UnleashServer.Target("flags", "*:production.client", new Uri($"http://127.0.0.1:{port}/"), adminToken: "*:*.stand-in-admin");
        var failure = await Assert.ThrowsAsync<UnleashCallException>(() => new SetUnleashFlagAction(_api).SnapshotAsync(Request(target, "checkout", false), default));
        await answering;
        Assert.Equal(transient, failure.Transient);
        Assert.Equal(transient, new UnleashKind().IsTransient(failure));
        Assert.Contains(status.ToString(System.Globalization.CultureInfo.InvariantCulture), failure.Message, StringComparison.Ordinal);
        Assert.Contains("the stand-in says no.", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("stand-in-admin", failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_refuses_connections_is_said_to_be_unreachable_and_worth_a_retry()
    {
        var port = TestCatalog.FreeLoopbackPort();
        var target = UnleashServer.Target("flags", "*:production.client", new Uri($"http://127.0.0.1:{port}/"));
        var failure = await Assert.ThrowsAsync<UnleashCallException>(() => new SetUnleashFlagAction(_api).SnapshotAsync(Request(target, "checkout", false), default));
        Assert.StartsWith($"Unleash at http://127.0.0.1:{port} could not be reached while reading flag 'checkout':", failure.Message, StringComparison.Ordinal);
        Assert.True(new UnleashKind().IsTransient(failure));
    }

    [Fact]
    public void Flag_names_unleash_would_not_take_are_refused_naming_the_parameter()
    {
        var faults = new SetUnleashFlagAction(_api).ValidateParameters(new Dictionary<string, string> { ["Flag"] = "checkout v2/../admin", ["Enabled"] = "false" });
        Assert.Equal(["Parameters:Flag 'checkout v2/../admin' is not an Unleash flag name (1 to 100 letters, digits, '.', '_', '~' or '-')."], faults);
        Assert.Equal(["Parameters:Enabled must be true or false."], new SetUnleashFlagAction(_api).ValidateParameters(new Dictionary<string, string> { ["Flag"] = "checkout" }));
    }
}
