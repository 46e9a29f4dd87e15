using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Engine.Notifications.Outbox;
using Grace.Tests.Infrastructure;
using Grace.Tests.Integration;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Grace.Tests.Browser;

/// <summary>
/// Approving from Slack, seen in a real browser: an approval is requested, a Slack-style signed
/// callback approves it, and the console shows who approved and from where; the Admins' outbox page.
/// </summary>
public sealed class NotificationBrowserTests : IAsyncLifetime
{
    private const string Password = "Browser-Test-Password-1";
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private LoopbackReceiver _receiver = null!;
    private GraceHost _host = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;
    private string _baseUrl = "";

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _receiver = await LoopbackReceiver.StartAsync();
        // The chat webhook is down until the test has seen the Admins' page show it failing, then it comes back:
        // however long the mission takes meanwhile, the page is looked at while it still fails.
        _receiver.Default = (502, "Bad Gateway");
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(SlackInteractionTests.SlackSettings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Notifications:PollIntervalSeconds"] = "0.1",
            ["Grace:Notifications:InitialBackoffSeconds"] = "2",
            // However long the webhook stays down, the attempt after it comes back is at most this far off.
            ["Grace:Notifications:MaxBackoffSeconds"] = "4",
            ["Grace:Notifications:Webhooks:chat-ops:Url"] = _receiver.Url + "/hooks/chat-ops",
            ["Grace:Notifications:Webhooks:chat-ops:Secret"] = "browser-test-webhook-secret",
            ["Grace:Notifications:Routes:0:Channels:0"] = "chat-ops",
        }));
        _host.UseKestrel(0);
        _host.StartServer();
        _baseUrl = _host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
        await _host.CreateUserAsync("olivia", Password, GraceRoles.Operator);
        await _host.CreateUserAsync("oscar", Password, GraceRoles.Operator);

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("GRACE_TEST_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        await _host.DisposeAsync();
        await _receiver.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private async Task<IPage> SignInAsync(string user, string password = Password)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = _baseUrl, ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/approvals");
        await page.FillAsync("#userName", user);
        await page.FillAsync("#password", password);
        await page.ClickAsync("#sign-in");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/approvals$"));
        await WaitInteractiveAsync(page);
        return page;
    }

    private static async Task WaitInteractiveAsync(IPage page) =>
        await page.WaitForSelectorAsync("#grace-interactive", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached, Timeout = 20_000 });

    private static async Task GoAsync(IPage page, string path)
    {
        await page.GotoAsync(path);
        await WaitInteractiveAsync(page);
    }

    private static Task ShotAsync(IPage page, string name) => DocScreenshots.TakeAsync(page, name);

    [Fact]
    public async Task An_approval_requested_is_approved_from_slack_and_the_console_shows_who_and_from_where()
    {
        TestCatalog.FillCache(_folder.Combine("cache-root", "thumbnails"));
        var olivia = await SignInAsync("olivia");
        var posted = await olivia.Context.APIRequest.PostAsync("/api/signals", new APIRequestContextOptions
        {
            DataObject = new { source = "thumbnailer", message = TestCatalog.CacheMessage, severity = "Error" },
        });
        Assert.Equal(202, posted.Status);
        var card = olivia.Locator(".approval-card");
        await Expect(card).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 20_000 });
        var missionId = Guid.Parse((await card.GetAttributeAsync("data-mission"))!);

        // Olivia keeps the mission open while Oscar presses Approve in Slack.
        await GoAsync(olivia, $"/missions/{missionId}");
        await Expect(olivia.Locator("#approval-status")).ToContainTextAsync("Pending");
        using (var slack = new HttpClient { BaseAddress = new Uri(_baseUrl) })
        {
            var response = await SlackInteractionTests.PostSignedAsync(slack, SlackInteractionTests.Payload("U0OSCAR", SlackChannel.ApproveAction, missionId.ToString()));
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        await Expect(olivia.Locator(".approval-decision")).ToContainTextAsync("approved by oscar via Slack", new LocatorAssertionsToContainTextOptions { Timeout = 20_000 });
        await Expect(olivia.Locator(".timeline-item.kind-approved")).ToContainTextAsync("Approved by oscar via Slack");
        await Expect(olivia.Locator("#contract-verdict")).ToHaveTextAsync("Met", new LocatorAssertionsToHaveTextOptions { Timeout = 30_000 });
        await ShotAsync(olivia, "mission-approved-via-slack");

        // The Admin's outbox: the approval request failed twice on the chat webhook, then went through; Olivia may not see it.
        await olivia.GotoAsync("/notifications");
        await Expect(olivia).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/account/denied"));
        var admin = await SignInAsync("admin", TestCatalog.AdminPassword);
        await GoAsync(admin, "/notifications");
        var row = admin.Locator(".notification-row").Filter(new LocatorFilterOptions { HasText = "Approval requested" });
        await Expect(row).ToContainTextAsync("502", new LocatorAssertionsToContainTextOptions { Timeout = 20_000 });
        await Expect(row.Locator(".notification-status")).ToHaveTextAsync("Failing");
        await ShotAsync(admin, "notifications");
        _receiver.Default = (200, "ok");
        await Expect(row.Locator(".notification-status")).ToHaveTextAsync("Delivered", new LocatorAssertionsToHaveTextOptions { Timeout = 30_000 });
        // Every attempt is counted: the failed ones and the one that went through.
        var attempts = int.Parse(await row.Locator(".notification-attempts").InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(attempts >= 2, $"{attempts} attempt(s)");
        Assert.Equal(attempts, _receiver.Received.Count(r => r.Headers[WebhookChannel.EventHeader] == nameof(NotificationKind.ApprovalRequested)));
    }
}
