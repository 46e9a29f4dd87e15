using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Notifications.Outbox;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using netDumbster.smtp;

namespace Grace.Tests.Integration;

/// <summary>
/// The notification outbox on a real host and a real SQLite file, delivering to real receivers:
/// an SMTP server in the test process (netDumbster) and HTTP servers on loopback ports.
/// </summary>
public sealed class NotificationTests : SqliteDatabaseTest
{
    private const string Secret = "webhook-secret-for-tests-0123456789";
    private string Cache => Folder.Combine("cache-root", "thumbnails");

    private GraceHost NewHost(IEnumerable<KeyValuePair<string, string?>> extra, Action<IServiceCollection>? services = null)
    {
        var settings = TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Notifications:ConsoleUrl"] = "https://grace.example.test",
            ["Grace:Notifications:PollIntervalSeconds"] = "0.1",
            ["Grace:Notifications:InitialBackoffSeconds"] = "0.3",
            ["Grace:Notifications:TimeoutSeconds"] = "5",
        }).ToList();
        foreach (var (key, value) in extra)
        {
            settings.RemoveAll(kv => kv.Key == key);
            settings.Add(new(key, value));
        }

        return new GraceHost(settings, services).Start();
    }

    private static Dictionary<string, string?> Webhook(string url, params NotificationKind[] events)
    {
        var s = new Dictionary<string, string?>
        {
            ["Grace:Notifications:Webhooks:ops-hook:Url"] = url,
            ["Grace:Notifications:Webhooks:ops-hook:Secret"] = Secret,
            ["Grace:Notifications:Routes:0:Channels:0"] = "ops-hook",
        };
        for (var i = 0; i < events.Length; i++)
        {
            s[$"Grace:Notifications:Routes:0:Events:{i}"] = events[i].ToString();
        }

        return s;
    }

    private static async Task PostAsync(GraceHost host, string message)
    {
        using var client = host.IngestClient();
        (await client.PostAsJsonAsync("/api/signals", new { source = "thumbnailer", message })).EnsureSuccessStatusCode();
    }

    private static async Task<Notification> WaitForRowAsync(GraceHost host, Func<Notification, bool> predicate, string what, int timeoutSeconds = 20)
    {
        Notification? found = null;
        List<Notification> seen = [];
        try
        {
            await host.WaitUntilAsync(async db =>
            {
                seen = await db.Notifications.AsNoTracking().ToListAsync();
                found = seen.FirstOrDefault(predicate);
                return found is not null;
            }, timeoutSeconds);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No outbox row became {what}. Rows: {string.Join("; ", seen.Select(n => $"{n.Kind}/{n.Channel}={n.Status} x{n.Attempts} {n.LastError}"))}");
        }

        return found!;
    }

    private static void AssertSigned(ReceivedRequest request)
    {
        var timestamp = long.Parse(request.Headers[WebhookChannel.TimestampHeader], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Signatures.Webhook(Secret, timestamp, request.Body), request.Headers[WebhookChannel.SignatureHeader]);
        Assert.InRange(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - timestamp, -5, 60);
        // A receiver with the wrong secret would refuse it.
        Assert.NotEqual(Signatures.Webhook("another-secret-entirely-123456", timestamp, request.Body), request.Headers[WebhookChannel.SignatureHeader]);
    }

    [Fact]
    public async Task An_approval_request_is_mailed_over_smtp_with_a_link_to_the_approvals_page()
    {
        TestCatalog.FillCache(Cache);
        var port = TestCatalog.FreeLoopbackPort();
        using var smtp = SimpleSmtpServer.Start(port);
        await using var host = NewHost(new Dictionary<string, string?>
        {
            ["Grace:Notifications:Mail:oncall:Host"] = "127.0.0.1",
            ["Grace:Notifications:Mail:oncall:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Grace:Notifications:Mail:oncall:Security"] = "None",
            ["Grace:Notifications:Mail:oncall:From"] = "Grace <grace@example.test>",
            ["Grace:Notifications:Mail:oncall:To:0"] = "oncall@example.test",
            ["Grace:Notifications:Routes:0:Events:0"] = "ApprovalRequested",
            ["Grace:Notifications:Routes:0:Channels:0"] = "oncall",
            ["Grace:Notifications:Routes:0:MinimumTier"] = "2",
        });

        await PostAsync(host, TestCatalog.CacheMessage);
        var mission = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        var row = await WaitForRowAsync(host, n => n.Status == NotificationStatus.Delivered, "delivered");
        Assert.Equal(NotificationKind.ApprovalRequested, row.Kind);
        Assert.Equal(mission.Id, row.MissionId);

        for (var deadline = DateTime.UtcNow.AddSeconds(10); smtp.ReceivedEmailCount == 0 && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(50);
        }

        var mail = Assert.Single(smtp.ReceivedEmail);
        Assert.Equal("oncall@example.test", Assert.Single(mail.ToAddresses).Address);
        Assert.Contains("Approval needed (tier 2)", mail.Headers["Subject"]);
        var text = string.Join("\n", mail.MessageParts.Select(p => p.BodyData));
        Assert.Contains("https://grace.example.test/approvals", text);
        Assert.Contains($"https://grace.example.test/missions/{mission.Id}", text);
    }

    [Fact]
    public async Task A_signed_webhook_that_fails_twice_is_delivered_on_the_third_attempt_with_the_same_delivery_id()
    {
        TestCatalog.FillCache(Cache);
        await using var receiver = await LoopbackReceiver.StartAsync();
        receiver.AnswerNext((500, "busy"), (503, "still busy"));
        await using var host = NewHost(Webhook(receiver.Url + "/hooks/grace", NotificationKind.ApprovalRequested));

        await PostAsync(host, TestCatalog.CacheMessage);
        var mission = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        var failing = await WaitForRowAsync(host, n => n.Status == NotificationStatus.Failing, "failing");
        Assert.Contains("500", failing.LastError);
        Assert.DoesNotContain("/hooks/grace", failing.LastError);

        var row = await WaitForRowAsync(host, n => n.Status == NotificationStatus.Delivered, "delivered");
        Assert.Equal(3, row.Attempts);
        Assert.Null(row.LastError);
        var requests = receiver.Received;
        Assert.Equal(3, requests.Count);
        Assert.All(requests, r => Assert.Equal("/hooks/grace", r.Path));
        Assert.All(requests, AssertSigned);
        Assert.Single(requests.Select(r => r.Headers[WebhookChannel.DeliveryHeader]).Distinct());
        // Exponential backoff: the second wait is about twice the first (0.3 s, then 0.6 s).
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromMilliseconds(250), $"first wait {requests[1].At - requests[0].At}");
        Assert.True(requests[2].At - requests[1].At >= TimeSpan.FromMilliseconds(550), $"second wait {requests[2].At - requests[1].At}");

        using var body = JsonDocument.Parse(requests[2].Body);
        Assert.Equal("ApprovalRequested", body.RootElement.GetProperty("kind").GetString());
        Assert.Equal(mission.Id, body.RootElement.GetProperty("missionId").GetGuid());
        Assert.Equal("https://grace.example.test/approvals", body.RootElement.GetProperty("link").GetString());
    }

    [Fact]
    public async Task A_failing_row_survives_a_restart_keeps_its_schedule_and_is_delivered_after_it()
    {
        TestCatalog.FillCache(Cache);
        var port = TestCatalog.FreeLoopbackPort();
        var settings = Webhook($"http://127.0.0.1:{port}/hook", NotificationKind.ApprovalRequested);
        settings["Grace:Notifications:InitialBackoffSeconds"] = "1";
        // A row that failed several times before the restart is due again within 2 s, not after a long doubled wait.
        settings["Grace:Notifications:MaxBackoffSeconds"] = "2";
        Guid rowId;
        await using (var first = NewHost(settings))
        {
            // Nothing listens yet: the first attempt fails and the next one is scheduled in the row.
            await PostAsync(first, TestCatalog.CacheMessage);
            var failing = await WaitForRowAsync(first, n => n.Status == NotificationStatus.Failing, "failing");
            Assert.Contains("could not be reached", failing.LastError);
            rowId = failing.Id;
        }

        await using (var db = new GraceHost(Database.Settings()).CreateDbWithoutStarting())
        {
            var stored = await db.Notifications.AsNoTracking().SingleAsync(n => n.Id == rowId);
            Assert.NotEqual(NotificationStatus.Delivered, stored.Status);
            Assert.True(stored.Attempts >= 1);
        }

        await using var receiver = await LoopbackReceiver.StartAsync(port);
        await using var second = NewHost(settings);
        var delivered = await WaitForRowAsync(second, n => n.Id == rowId && n.Status == NotificationStatus.Delivered, "delivered after the restart");
        Assert.True(delivered.Attempts >= 2);
        var request = Assert.Single(await receiver.WaitForAsync(1));
        Assert.Equal(rowId.ToString(), request.Headers[WebhookChannel.DeliveryHeader]);
        AssertSigned(request);
    }

    [Fact]
    public async Task A_pending_row_written_by_an_instance_that_does_not_deliver_is_delivered_after_a_restart()
    {
        TestCatalog.FillCache(Cache);
        await using var receiver = await LoopbackReceiver.StartAsync();
        var settings = Webhook(receiver.Url, NotificationKind.ApprovalRequested);
        Guid rowId;
        await using (var first = NewHost(new Dictionary<string, string?>(settings) { ["Grace:Notifications:DeliveryEnabled"] = "false" }))
        {
            await PostAsync(first, TestCatalog.CacheMessage);
            await first.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
            // Committed with the transition, before anything was sent.
            var pending = await WaitForRowAsync(first, n => n.Kind == NotificationKind.ApprovalRequested, "stored");
            Assert.Equal((NotificationStatus.Pending, 0), (pending.Status, pending.Attempts));
            rowId = pending.Id;
        }

        Assert.Empty(receiver.Received);
        await using var second = NewHost(settings);
        var delivered = await WaitForRowAsync(second, n => n.Id == rowId && n.Status == NotificationStatus.Delivered, "delivered after the restart");
        Assert.Equal(1, delivered.Attempts);
        Assert.Equal(rowId.ToString(), Assert.Single(await receiver.WaitForAsync(1)).Headers[WebhookChannel.DeliveryHeader]);
    }

    [Fact]
    public async Task A_repeat_is_stored_once_and_the_kill_switch_is_routed_like_any_event()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        var settings = Webhook(receiver.Url, NotificationKind.IncidentNeedsHuman, NotificationKind.KillSwitchChanged);
        await using var host = NewHost(settings);
        await PostAsync(host, "Nothing in the catalog matches this one at all");
        var incident = await host.WaitForIncidentAsync(i => i.SampleMessage.Contains("Nothing in the catalog", StringComparison.Ordinal));

        var outbox = host.Get<NotificationOutbox>();
        foreach (var occasion in new[] { "ladder-1", "ladder-1", "ladder-2" })
        {
            await using var db = host.CreateDb();
            var row = await db.Incidents.SingleAsync(i => i.Id == incident.Id);
            await outbox.AddIncidentNeedsHumanAsync(db, row, "every playbook failed", occasion);
            await db.SaveChangesAsync();
        }

        // In one unit of work too: the second call sees the first row before it is saved.
        await using (var db = host.CreateDb())
        {
            var row = await db.Incidents.SingleAsync(i => i.Id == incident.Id);
            Assert.Equal(1, await outbox.AddIncidentNeedsHumanAsync(db, row, "again", "ladder-3"));
            Assert.Equal(0, await outbox.AddIncidentNeedsHumanAsync(db, row, "again", "ladder-3"));
            await db.SaveChangesAsync();
        }

        await host.Get<KillSwitch>().SetAsync(true, new Actor("lena", [GraceRoles.Lead]), "freeze for the release", default);
        await receiver.WaitForAsync(4);
        await using (var db = host.CreateDb())
        {
            var rows = await db.Notifications.AsNoTracking().ToListAsync();
            Assert.Equal(3, rows.Count(n => n.Kind == NotificationKind.IncidentNeedsHuman));
            Assert.Single(rows, n => n.Kind == NotificationKind.KillSwitchChanged);
            Assert.Equal(rows.Count, rows.Select(n => n.DedupKey).Distinct().Count());
        }

        var killSwitch = receiver.Received.Single(r => r.Headers[WebhookChannel.EventHeader] == "KillSwitchChanged");
        Assert.Contains("Kill switch engaged by lena", killSwitch.Body);
        Assert.Contains("freeze for the release", killSwitch.Body);
        // The unmatched signal made no mission: nothing else was routed.
        Assert.Equal(4, receiver.Received.Count);
    }

    [Fact]
    public async Task Slack_gets_block_kit_buttons_and_teams_gets_an_adaptive_card_with_the_link()
    {
        TestCatalog.FillCache(Cache);
        await using var slack = await LoopbackReceiver.StartAsync();
        slack.Default = (200, """{"ok":true,"channel":"C0GRACE","ts":"1700000000.000100"}""");
        await using var teams = await LoopbackReceiver.StartAsync();
        teams.Default = (202, "");
        await using var host = NewHost(new Dictionary<string, string?>
        {
            ["Grace:Notifications:Slack:ops-slack:BotToken"] = "xoxb-test-token",
            ["Grace:Notifications:Slack:ops-slack:Channel"] = "C0GRACE",
            ["Grace:Notifications:Slack:ops-slack:ApiBaseUrl"] = slack.Url + "/api",
            ["Grace:Notifications:Teams:ops-teams:WebhookUrl"] = teams.Url + "/webhookb2/incoming",
            ["Grace:Notifications:Routes:0:Events:0"] = "ApprovalRequested",
            ["Grace:Notifications:Routes:0:Channels:0"] = "ops-slack",
            ["Grace:Notifications:Routes:0:Channels:1"] = "ops-teams",
            ["Grace:Notifications:Routes:0:Patterns:0"] = "test-cache",
            // Routed by pattern: the WAL pattern's missions go nowhere.
            ["Grace:Notifications:Routes:1:Events:0"] = "MissionFailed",
            ["Grace:Notifications:Routes:1:Channels:0"] = "ops-teams",
        });

        // Slack's Web API answers 200 with ok=false when it refuses: that is a failure, tried again.
        slack.AnswerNext((200, """{"ok":false,"error":"ratelimited"}"""));
        await PostAsync(host, TestCatalog.CacheMessage);
        var mission = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        var slackRequest = (await slack.WaitForAsync(2))[^1];
        var teamsRequest = Assert.Single(await teams.WaitForAsync(1));
        var slackRow = await WaitForRowAsync(host, n => n.Channel == "ops-slack" && n.Status == NotificationStatus.Delivered, "delivered to Slack");
        Assert.Equal(2, slackRow.Attempts);

        Assert.Equal("/api/chat.postMessage", slackRequest.Path);
        Assert.Equal("Bearer xoxb-test-token", slackRequest.Headers["Authorization"]);
        Assert.StartsWith("application/json", slackRequest.Headers["Content-Type"]);
        using (var message = JsonDocument.Parse(slackRequest.Body))
        {
            var root = message.RootElement;
            Assert.Equal("C0GRACE", root.GetProperty("channel").GetString());
            var buttons = root.GetProperty("blocks").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "actions").GetProperty("elements").EnumerateArray().ToList();
            var approve = buttons.Single(b => b.GetProperty("action_id").GetString() == SlackChannel.ApproveAction);
            Assert.Equal(mission.Id.ToString(), approve.GetProperty("value").GetString());
            Assert.Equal("primary", approve.GetProperty("style").GetString());
            Assert.Equal(mission.Id.ToString(), buttons.Single(b => b.GetProperty("action_id").GetString() == SlackChannel.RejectAction).GetProperty("value").GetString());
            Assert.Equal($"https://grace.example.test/missions/{mission.Id}", buttons.Single(b => b.GetProperty("action_id").GetString() == SlackChannel.OpenAction).GetProperty("url").GetString());
            Assert.Contains("<https://grace.example.test/approvals|", root.GetProperty("blocks")[0].GetProperty("text").GetProperty("text").GetString());
        }

        Assert.Equal("/webhookb2/incoming", teamsRequest.Path);
        using (var card = JsonDocument.Parse(teamsRequest.Body))
        {
            var attachment = card.RootElement.GetProperty("attachments")[0];
            Assert.Equal("application/vnd.microsoft.card.adaptive", attachment.GetProperty("contentType").GetString());
            var content = attachment.GetProperty("content");
            Assert.Equal("AdaptiveCard", content.GetProperty("type").GetString());
            var open = content.GetProperty("actions")[0];
            Assert.Equal("Action.OpenUrl", open.GetProperty("type").GetString());
            Assert.Equal("https://grace.example.test/approvals", open.GetProperty("url").GetString());
        }
    }

    [Fact]
    public async Task An_admin_sees_a_given_up_row_with_its_error_and_retries_it()
    {
        TestCatalog.FillCache(Cache);
        await using var receiver = await LoopbackReceiver.StartAsync();
        receiver.AnswerNext((500, "down"), (500, "down"));
        var settings = Webhook(receiver.Url, NotificationKind.ApprovalRequested);
        settings["Grace:Notifications:MaxAttempts"] = "2";
        await using var host = NewHost(settings);
        await PostAsync(host, TestCatalog.CacheMessage);
        var given = await WaitForRowAsync(host, n => n.Status == NotificationStatus.GivenUp, "given up");
        Assert.Equal(2, given.Attempts);
        Assert.Contains("500", given.LastError);

        var admin = host.Get<NotificationAdmin>();
        await Assert.ThrowsAsync<MissionOperationException>(() => admin.RetryAsync(given.Id, new Actor("lena", [GraceRoles.Lead]), default));
        await admin.RetryAsync(given.Id, new Actor("admin", [GraceRoles.Admin], "10.0.0.9"), default);
        var delivered = await WaitForRowAsync(host, n => n.Id == given.Id && n.Status == NotificationStatus.Delivered, "delivered after the retry");
        Assert.Equal(1, delivered.Attempts);
        await using var db = host.CreateDb();
        var audit = await db.AuditEntries.AsNoTracking().SingleAsync(a => a.Action == "notification.retry");
        Assert.Equal("admin", audit.Actor);
        Assert.Contains("500", audit.Detail);
    }

    [Fact]
    public async Task A_broken_notification_configuration_stops_the_start_naming_the_key()
    {
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Notifications:Webhooks:ops-hook:Url"] = "not a url",
            ["Grace:Notifications:Webhooks:ops-hook:Secret"] = "short",
            ["Grace:Notifications:Routes:0:Channels:0"] = "ops-hok",
            ["Grace:Notifications:Routes:0:Patterns:0"] = "no-such-pattern",
            ["Grace:Notifications:Slack:ops-slack:BotToken"] = "xoxb-1",
            ["Grace:Patterns:test-wal:SilenceAlertmanager"] = "true",
        }));
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        var message = ex.ToString();
        Assert.Contains("Grace:Notifications:Webhooks:ops-hook:Url must be an absolute http(s) URL", message);
        Assert.Contains("Grace:Notifications:Webhooks:ops-hook:Secret is required", message);
        Assert.Contains("Grace:Notifications:Routes:0:Channels:0: channel 'ops-hok' is not defined", message);
        Assert.Contains("Grace:Notifications:Routes:0:Patterns:0: pattern 'no-such-pattern'", message);
        Assert.Contains("Grace:Notifications:Slack:ops-slack:Channel is required with BotToken", message);
        Assert.Contains("Grace:Patterns:test-wal:SilenceAlertmanager needs Grace:Alertmanager:Url", message);
    }
}
