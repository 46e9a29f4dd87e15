using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Notifications.Outbox;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>
/// <c>POST /api/slack/interactions</c> on the real host: Slack-style callbacks signed with valid,
/// stale and forged signatures, and the console's rules applied to the mapped Grace users.
/// </summary>
public sealed class SlackInteractionTests : SqliteDatabaseTest
{
    public const string SigningSecret = "slack-signing-secret-for-tests";
    private const string Password = "Slack-Test-Password-1";
    private string Cache => Folder.Combine("cache-root", "thumbnails");

    /// <summary>The Slack settings: the signing secret and who is who.</summary>
    public static Dictionary<string, string?> SlackSettings() => new()
    {
        ["Grace:Notifications:SlackApp:SigningSecret"] = SigningSecret,
        ["Grace:Notifications:SlackApp:Users:U0OSCAR"] = "oscar",
        ["Grace:Notifications:SlackApp:Users:U0LENA"] = "lena",
        ["Grace:Notifications:SlackApp:Users:U0OLIVIA"] = "olivia",
        ["Grace:Notifications:SlackApp:Users:U0VICTOR"] = "victor",
        ["Grace:Notifications:SlackApp:Users:U0GHOST"] = "ghost",
    };

    private GraceHost NewHost(int tier = 2) => new GraceHost(TestCatalog.Settings(Folder, tier).Concat(Database.Settings()).Concat(SlackSettings())).Start();

    /// <summary>A block_actions payload as Slack posts it when a person presses one of Grace's buttons.</summary>
    public static string Payload(string slackUser, string actionId, string value) =>
        "payload=" + Uri.EscapeDataString(JsonSerializer.Serialize(new
        {
            type = "block_actions",
            user = new { id = slackUser, username = slackUser.ToLowerInvariant(), team_id = "T0GRACE" },
            api_app_id = "A0GRACE",
            team = new { id = "T0GRACE", domain = "grace-tests" },
            container = new { type = "message", message_ts = "1700000000.000100", channel_id = "C0GRACE" },
            trigger_id = "1700000000.1.abcdef",
            response_url = "https://hooks.slack.com/actions/T0GRACE/1/abc",
            actions = new[] { new { action_id = actionId, block_id = "grace_actions", value, type = "button", action_ts = "1700000001.000200" } },
        }));

    /// <summary>Posts a form body signed as Slack signs it (or with the given timestamp and secret).</summary>
    public static async Task<HttpResponseMessage> PostSignedAsync(HttpClient client, string body, DateTimeOffset? at = null, string secret = SigningSecret, string? signature = null)
    {
        var timestamp = (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/slack/interactions")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded"),
        };
        request.Headers.Add("X-Slack-Request-Timestamp", timestamp);
        request.Headers.Add("X-Slack-Signature", signature ?? Signatures.Slack(secret, timestamp, Encoding.UTF8.GetBytes(body)));
        return await client.SendAsync(request);
    }

    private async Task<(GraceHost Host, Mission Mission)> AwaitingApprovalAsync(int tier)
    {
        TestCatalog.FillCache(Cache);
        var host = NewHost(tier);
        foreach (var (name, role) in new[] { ("oscar", GraceRoles.Operator), ("lena", GraceRoles.Lead), ("olivia", GraceRoles.Operator), ("victor", GraceRoles.Viewer) })
        {
            await host.CreateUserAsync(name, Password, role);
        }

        // Olivia reports the fault herself, so she is the requester.
        using var olivia = host.ClientWithCookie(await host.SignInAsync("olivia", Password));
        (await olivia.PostAsJsonAsync("/api/signals", new { source = "thumbnailer", message = TestCatalog.CacheMessage })).EnsureSuccessStatusCode();
        var mission = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        Assert.Equal("olivia", mission.RequestedBy);
        return (host, mission);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string contains)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {body}");
        Assert.StartsWith("application/problem+json", response.Content.Headers.ContentType?.ToString());
        Assert.Contains(contains, body);
    }

    [Fact]
    public async Task Forged_stale_unsigned_and_malformed_callbacks_are_refused_and_decide_nothing()
    {
        var (host, mission) = await AwaitingApprovalAsync(2);
        await using var _ = host;
        using var client = host.CreateClient();
        var approve = Payload("U0OSCAR", SlackChannel.ApproveAction, mission.Id.ToString());

        await AssertProblemAsync(await PostSignedAsync(client, approve, secret: "not-the-signing-secret"), HttpStatusCode.Unauthorized, "does not match");
        await AssertProblemAsync(await PostSignedAsync(client, approve, at: DateTimeOffset.UtcNow.AddMinutes(-6)), HttpStatusCode.Unauthorized, "old");
        using (var unsigned = new HttpRequestMessage(HttpMethod.Post, "/api/slack/interactions") { Content = new StringContent(approve, Encoding.UTF8, "application/x-www-form-urlencoded") })
        {
            await AssertProblemAsync(await client.SendAsync(unsigned), HttpStatusCode.Unauthorized, "not signed");
        }

        // A valid signature over a body that is then changed in transit.
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var signedForOther = Signatures.Slack(SigningSecret, timestamp, Encoding.UTF8.GetBytes(Payload("U0OSCAR", SlackChannel.RejectAction, mission.Id.ToString())));
        await AssertProblemAsync(await PostSignedAsync(client, approve, signature: signedForOther), HttpStatusCode.Unauthorized, "does not match");

        await AssertProblemAsync(await PostSignedAsync(client, "payload=%7Bnot-json"), HttpStatusCode.BadRequest, "payload");
        await AssertProblemAsync(await PostSignedAsync(client, "token=abc"), HttpStatusCode.BadRequest, "payload");
        foreach (var odd in new[]
        {
            "[]", "{\"type\":7}", "{\"type\":\"block_actions\",\"user\":{\"id\":5}}", "{\"type\":\"block_actions\",\"user\":{\"id\":\"U0OSCAR\"},\"actions\":[3]}",
            "{\"type\":\"view_submission\",\"user\":{\"id\":\"U0OSCAR\"}}",
        })
        {
            await AssertProblemAsync(await PostSignedAsync(client, "payload=" + Uri.EscapeDataString(odd)), HttpStatusCode.BadRequest, "payload");
        }

        await AssertProblemAsync(await PostSignedAsync(client, Payload("U0OSCAR", "grace_delete_everything", mission.Id.ToString())), HttpStatusCode.BadRequest, "payload.actions[0].action_id");
        await AssertProblemAsync(await PostSignedAsync(client, Payload("U0OSCAR", SlackChannel.ApproveAction, "not-a-guid")), HttpStatusCode.BadRequest, "payload.actions[0].value");

        await using var db = host.CreateDb();
        var row = await db.Missions.Include(m => m.Approval!).ThenInclude(a => a.Decisions).AsNoTracking().SingleAsync(m => m.Id == mission.Id);
        Assert.Equal(MissionState.AwaitingApproval, row.State);
        Assert.Empty(row.Approval!.Decisions);
    }

    [Fact]
    public async Task A_signed_callback_decides_with_the_consoles_rules_and_records_that_it_came_from_slack()
    {
        var (host, mission) = await AwaitingApprovalAsync(2);
        await using var _ = host;
        using var client = host.CreateClient();

        await AssertProblemAsync(await PostSignedAsync(client, Payload("U0STRANGER", SlackChannel.ApproveAction, mission.Id.ToString())), HttpStatusCode.Forbidden, "not mapped");
        await AssertProblemAsync(await PostSignedAsync(client, Payload("U0GHOST", SlackChannel.ApproveAction, mission.Id.ToString())), HttpStatusCode.Forbidden, "does not exist");
        await AssertProblemAsync(await PostSignedAsync(client, Payload("U0VICTOR", SlackChannel.ApproveAction, mission.Id.ToString())), HttpStatusCode.Forbidden, "Operator");
        await AssertProblemAsync(await PostSignedAsync(client, Payload("U0OLIVIA", SlackChannel.ApproveAction, mission.Id.ToString())), HttpStatusCode.Forbidden, "requested this mission");
        await AssertProblemAsync(await PostSignedAsync(client, Payload("U0OSCAR", SlackChannel.ApproveAction, Guid.NewGuid().ToString())), HttpStatusCode.NotFound, "does not exist");

        var ok = await PostSignedAsync(client, Payload("U0OSCAR", SlackChannel.ApproveAction, mission.Id.ToString()));
        var answer = await ok.Content.ReadAsStringAsync();
        Assert.True(ok.IsSuccessStatusCode, answer);
        Assert.Contains("Approved by oscar via Slack", answer);

        var done = await host.WaitForMissionAsync(m => m.Id == mission.Id && m.CompletedAt != null, "finished", 30);
        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Contains(done.Events, e => e.Kind == "approved" && e.Actor == "oscar" && e.Message.Contains("via Slack", StringComparison.Ordinal));
        await using var db = host.CreateDb();
        var decision = await db.ApprovalDecisions.AsNoTracking().SingleAsync();
        Assert.Equal(("oscar", DecisionVia.Slack, ApprovalVerdict.Approve), (decision.UserName, decision.Via, decision.Verdict));
        var audit = await db.AuditEntries.AsNoTracking().SingleAsync(a => a.Action == "mission.approve");
        Assert.Equal("oscar", audit.Actor);
        Assert.Equal("slack:U0OSCAR", audit.RemoteAddress);
        Assert.Contains("via Slack", audit.Detail);

        // Too late now: the mission no longer waits.
        await AssertProblemAsync(await PostSignedAsync(client, Payload("U0LENA", SlackChannel.RejectAction, mission.Id.ToString())), HttpStatusCode.Conflict, "not waiting for approval");
    }

    [Fact]
    public async Task Tier3_from_slack_needs_two_distinct_people_and_a_rejection_ends_it()
    {
        var (host, mission) = await AwaitingApprovalAsync(3);
        await using var _ = host;
        using var client = host.CreateClient();
        var first = await PostSignedAsync(client, Payload("U0OSCAR", SlackChannel.ApproveAction, mission.Id.ToString()));
        Assert.Contains("another approver is needed", await first.Content.ReadAsStringAsync());
        await AssertProblemAsync(await PostSignedAsync(client, Payload("U0OSCAR", SlackChannel.ApproveAction, mission.Id.ToString())), HttpStatusCode.Conflict, "distinct approvers");

        var rejected = await PostSignedAsync(client, Payload("U0LENA", SlackChannel.RejectAction, mission.Id.ToString()));
        Assert.Contains("Rejected by lena via Slack", await rejected.Content.ReadAsStringAsync());
        var done = await host.WaitForMissionAsync(m => m.Id == mission.Id && m.State == MissionState.Rejected, "rejected");
        Assert.Equal(20, Directory.EnumerateFiles(Cache, "*", SearchOption.AllDirectories).Count());
        Assert.Contains(done.Events, e => e.Kind == "rejected" && e.Message.Contains("lena via Slack", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_approval_that_expired_cannot_be_approved_from_slack()
    {
        var (host, mission) = await AwaitingApprovalAsync(2);
        await using var _ = host;
        // The window closes (as if 30 minutes passed), and the sweep has not run yet.
        await using (var db = host.CreateDb())
        {
            await db.Approvals.Where(a => a.MissionId == mission.Id).ExecuteUpdateAsync(s => s.SetProperty(a => a.ExpiresAt, DateTimeOffset.UtcNow.AddSeconds(-1)));
        }

        using var client = host.CreateClient();
        var late = await PostSignedAsync(client, Payload("U0OSCAR", SlackChannel.ApproveAction, mission.Id.ToString()));
        var body = await late.Content.ReadAsStringAsync();
        Assert.True(late.StatusCode is HttpStatusCode.Conflict, body);
        Assert.True(body.Contains("expired", StringComparison.OrdinalIgnoreCase), body);
        var expired = await host.WaitForMissionAsync(m => m.Id == mission.Id && m.State == MissionState.Expired, "expired");
        Assert.Equal(20, Directory.EnumerateFiles(Cache, "*", SearchOption.AllDirectories).Count());
        Assert.Equal(ApprovalStatus.Expired, expired.Approval!.Status);
        Assert.DoesNotContain(expired.Events, e => e.Kind == "approved");
    }
}
