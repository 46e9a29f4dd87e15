using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>
/// The whole loop with a real Alertmanager (started by scripts/test.sh on loopback, with Grace as its
/// webhook receiver): an alert posted to Alertmanager reaches Grace unchanged, the mission runs, and
/// the alert is silenced in Alertmanager while Grace heals it, and no longer once the mission ends.
/// </summary>
public sealed class AlertmanagerSilenceTests : SqliteDatabaseTest
{
    private const string AlertName = "GraceTestCacheFull";

    private static string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"{name} is not set: run the tests with `bash scripts/test.sh`, which starts Alertmanager for them.");

    [Fact]
    public async Task An_alert_from_alertmanager_is_healed_while_silenced_there_and_the_silence_is_lifted_afterwards()
    {
        var alertmanager = Env("GRACE_TEST_ALERTMANAGER").TrimEnd('/');
        var port = int.Parse(Env("GRACE_TEST_ALERTMANAGER_RECEIVER_PORT"), System.Globalization.CultureInfo.InvariantCulture);
        var key = Env("GRACE_TEST_ALERTMANAGER_KEY");
        var run = Guid.NewGuid().ToString("N")[..12];
        var cache = Folder.Combine("cache-root", "thumbnails");
        TestCatalog.FillCache(cache);

        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Alertmanager:Url"] = alertmanager,
            ["Grace:Notifications:PollIntervalSeconds"] = "0.1",
            ["Grace:Notifications:InitialBackoffSeconds"] = "0.2",
            ["Grace:Patterns:am-cache:Labels:alertname"] = AlertName,
            ["Grace:Patterns:am-cache:Playbooks:0"] = "test-clear-cache",
            ["Grace:Patterns:am-cache:SilenceAlertmanager"] = "true",
        }));
        // Alertmanager's configuration names this port and key.
        host.UseKestrel(port);
        host.StartServer();
        await using (var db = host.CreateDb())
        {
            var prefix = string.Join('_', key.Split('_').Take(2));
            db.ApiKeys.Add(new ApiKey
            {
                Id = Guid.NewGuid(), Name = "alertmanager", Prefix = prefix, CreatedBy = "tests", CreatedAt = DateTimeOffset.UtcNow,
                Hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key))),
            });
            await db.SaveChangesAsync();
        }

        using var am = new HttpClient { BaseAddress = new Uri(alertmanager + "/") };
        var labels = new Dictionary<string, string> { ["alertname"] = AlertName, ["service"] = "thumbnailer", ["severity"] = "critical", ["run"] = run, ["instance"] = "thumbs-1:9100" };
        var summary = $"Thumbnail cache is full on thumbs-1 ({run})";
        var posted = await am.PostAsJsonAsync("api/v2/alerts", new[]
        {
            new { labels, annotations = new Dictionary<string, string> { ["summary"] = summary, ["runbook"] = "https://runbooks.example.test/cache" }, startsAt = DateTimeOffset.UtcNow.AddSeconds(-5) },
        });
        Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync());

        // Alertmanager sends it to Grace after its group wait; it arrives unchanged.
        var incident = await host.WaitForIncidentAsync(i => i.SampleMessage == summary, 30);
        Assert.Equal("thumbnailer", incident.Source);
        Assert.Equal(Severity.Critical, incident.Severity);
        var stored = JsonSerializer.Deserialize<Dictionary<string, string>>(incident.Labels!)!;
        foreach (var (name, value) in labels)
        {
            Assert.Equal(value, stored[name]);
        }

        Assert.Equal("https://runbooks.example.test/cache", stored["annotation.runbook"]);

        // The mission waits for an approver; meanwhile the alert is silenced in Alertmanager.
        var mission = await host.WaitForMissionAsync(m => m.IncidentId == incident.Id && m.State == MissionState.AwaitingApproval, "awaiting approval");
        Assert.Equal("am-cache", mission.PatternKey);
        var created = await WaitForSilenceRowAsync(host, NotificationKind.AlertSilence);
        var silence = await SilenceAsync(am, created.ExternalId!);
        Assert.Equal("active", silence.GetProperty("status").GetProperty("state").GetString());
        Assert.Equal("Grace", silence.GetProperty("createdBy").GetString());
        Assert.Contains($"/missions/{mission.Id}", silence.GetProperty("comment").GetString());
        var matchers = silence.GetProperty("matchers").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!, m => m.GetProperty("value").GetString()!);
        Assert.Equal(labels, matchers);
        Assert.All(silence.GetProperty("matchers").EnumerateArray(), m => Assert.False(m.GetProperty("isRegex").GetBoolean()));
        await WaitAsync(async () => (await AlertAsync(am, run)).GetProperty("status").GetProperty("silencedBy").EnumerateArray().Any(s => s.GetString() == created.ExternalId),
            "Alertmanager reports the alert as silenced by Grace's silence");

        // An operator approves; the mission heals, ends, and the silence is lifted.
        await host.Get<ApprovalService>().DecideAsync(mission.Id, new Actor("oscar", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default);
        var done = await host.WaitForMissionAsync(m => m.Id == mission.Id && m.CompletedAt != null, "finished", 30);
        Assert.Equal(MissionState.Succeeded, done.State);
        await WaitForSilenceRowAsync(host, NotificationKind.AlertSilenceExpire);
        Assert.Equal("expired", (await SilenceAsync(am, created.ExternalId!)).GetProperty("status").GetProperty("state").GetString());
        await WaitAsync(async () => !(await AlertAsync(am, run)).GetProperty("status").GetProperty("silencedBy").EnumerateArray().Any(),
            "Alertmanager no longer reports the alert as silenced");

        await using var check = host.CreateDb();
        var audit = await check.AuditEntries.AsNoTracking().Where(a => a.Subject == $"mission/{mission.Id}").ToListAsync();
        Assert.Contains(audit, a => a.Action == "alertmanager.silence" && a.Detail!.Contains(created.ExternalId!, StringComparison.Ordinal));
        Assert.Contains(audit, a => a.Action == "alertmanager.expire-silence" && a.Detail!.Contains(created.ExternalId!, StringComparison.Ordinal));

        // Resolve the alert, so Alertmanager forgets it.
        await am.PostAsJsonAsync("api/v2/alerts", new[] { new { labels, endsAt = DateTimeOffset.UtcNow } });
    }

    private static async Task<Notification> WaitForSilenceRowAsync(GraceHost host, NotificationKind kind)
    {
        Notification? row = null;
        await host.WaitUntilAsync(async db =>
        {
            row = await db.Notifications.AsNoTracking().SingleOrDefaultAsync(n => n.Kind == kind);
            Assert.NotEqual(NotificationStatus.GivenUp, row?.Status ?? NotificationStatus.Pending);
            return row?.Status == NotificationStatus.Delivered;
        }, 20);
        return row!;
    }

    private static async Task<JsonElement> SilenceAsync(HttpClient am, string id)
    {
        using var json = JsonDocument.Parse(await am.GetStringAsync($"api/v2/silence/{id}"));
        return json.RootElement.Clone();
    }

    private static async Task<JsonElement> AlertAsync(HttpClient am, string run)
    {
        var filter = Uri.EscapeDataString($"run=\"{run}\"");
        using var json = JsonDocument.Parse(await am.GetStringAsync($"api/v2/alerts?filter={filter}&silenced=true&inhibited=true&active=true"));
        return json.RootElement.EnumerateArray().Single().Clone();
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what, int timeoutSeconds = 20)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds); !await condition(); await Task.Delay(100))
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"Not seen within {timeoutSeconds} s: {what}.");
            }
        }
    }
}
