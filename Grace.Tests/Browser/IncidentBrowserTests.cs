using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Grace.Tests.Browser;

/// <summary>An operator in a real browser takes an incident that needs a human: acknowledges it, and runs a playbook from its page.</summary>
public sealed class IncidentBrowserTests : IAsyncLifetime
{
    private const string Password = "Browser-Test-Password-1";
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;
    private string _baseUrl = "";

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()));
        _host.UseKestrel(0);
        _host.StartServer();
        _baseUrl = _host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
        await _host.CreateUserAsync("olivia", Password, GraceRoles.Operator);
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
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    [Fact]
    public async Task An_operator_acknowledges_an_incident_and_runs_a_playbook_from_its_page()
    {
        TestCatalog.FillCache(_folder.Combine("cache-root", "thumbnails"), files: 4);
        using (var client = _host.IngestClient())
        {
            (await client.PostAsync("/api/signals", new StringContent($$"""{"source":"thumbnailer","message":"{{TestCatalog.CacheMessage}}"}""", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        }

        // Nobody approves in time: the first mission is rejected, and the ladder hands the incident to people.
        var waiting = await _host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        await _host.Get<ApprovalService>().DecideAsync(waiting.Id, new Actor("oscar", [GraceRoles.Operator]), ApprovalVerdict.Reject, "not now", default);
        await _host.WaitUntilAsync(async db => await db.Incidents.AnyAsync(i => i.Id == waiting.IncidentId && i.NeedsHuman), 20);

        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = _baseUrl, ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/");
        await page.FillAsync("#userName", "olivia");
        await page.FillAsync("#password", Password);
        await page.ClickAsync("#sign-in");
        await page.WaitForSelectorAsync("#grace-interactive", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached, Timeout = 20_000 });
        await Expect(page.Locator("#count-needs-human")).ToHaveTextAsync("1", new LocatorAssertionsToHaveTextOptions { Timeout = 20_000 });

        // From the overview to the incident.
        await page.Locator(".needs-human-row a").ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/incidents/{waiting.IncidentId}$"));
        await Expect(page.Locator("#incident-needs-human")).ToContainTextAsync("rejected");
        await page.Locator("#incident-acknowledge").ClickAsync();
        await Expect(page.Locator("#incident-acknowledged")).ToContainTextAsync("acknowledged by olivia", new LocatorAssertionsToContainTextOptions { Timeout = 20_000 });

        // Run the candidate playbook now: tier 2, so it waits for another operator (olivia asked).
        await page.Locator("#run-now").ClickAsync();
        await Expect(page.Locator(".incident-mission")).ToHaveCountAsync(2, new LocatorAssertionsToHaveCountOptions { Timeout = 20_000 });
        await Expect(page.Locator(".incident-event.kind-RunRequested")).ToContainTextAsync("olivia asked to run 'test-clear-cache' now");
        await Expect(page.Locator(".incident-mission").First).ToContainTextAsync("Awaiting", new LocatorAssertionsToContainTextOptions { Timeout = 20_000 });
        await ShotAsync(page, "incident");

        // Both ways: the mission links back to its incident.
        await page.Locator(".incident-mission-link").First.ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/missions/"));
        await Expect(page.Locator("#mission-incident-link")).ToHaveAttributeAsync("href", $"/incidents/{waiting.IncidentId}");
        await using var db = _host.CreateDb();
        var run = await db.Missions.SingleAsync(m => m.Origin == MissionOrigin.Person);
        Assert.Equal("olivia", run.RequestedBy);
        Assert.Equal(MissionState.AwaitingApproval, run.State);
    }

    private static Task ShotAsync(IPage page, string name) => DocScreenshots.TakeAsync(page, name);
}
