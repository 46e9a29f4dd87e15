using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Grace.Tests.Browser;

/// <summary>
/// The console in a real browser: Grace served by Kestrel on a loopback port, Chromium (the
/// machine's, from apt) driven by Playwright. Screenshots of every page go to docs/screenshots.
/// </summary>
public sealed class ConsoleBrowserTests : IAsyncLifetime
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
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Faults:Enabled"] = "true",
            ["Grace:Targets:demo-orders-api:HealthCheck:IntervalSeconds"] = "1",
            // Open pages check their person against the database every second, so a test sees what production sees within a minute.
            ["Grace:Identity:RevalidateSeconds"] = "1",
        }));
        _host.UseKestrel(0);
        _host.StartServer();
        _baseUrl = _host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
        await _host.CreateUserAsync("olivia", Password, GraceRoles.Operator);
        await _host.CreateUserAsync("oscar", Password, GraceRoles.Operator);
        await _host.CreateUserAsync("victor", Password, GraceRoles.Viewer);
        await _host.CreateUserAsync("lena", Password, GraceRoles.Lead);

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("GRACE_TEST_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
    }

    // Whatever the policy blocked while a test drove the console: must stay empty.
    private readonly System.Collections.Concurrent.ConcurrentBag<string> _cspViolations = [];

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
        Assert.True(_cspViolations.IsEmpty, "The Content-Security-Policy blocked: " + string.Join("\n", _cspViolations));
    }

    private async Task<IPage> SignInAsync(string user, string password = Password)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = _baseUrl, ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        var page = await context.NewPageAsync();
        // Chromium reports what the Content-Security-Policy blocked on the console ("Refused to ... violates ... Content Security Policy").
        page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase))
            {
                _cspViolations.Add(message.Text);
            }
        };
        await page.GotoAsync("/approvals");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/account/login"));
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
    public async Task An_operator_approves_a_tier2_action_live_and_watches_it_heal_while_a_viewer_is_refused()
    {
        TestCatalog.FillCache(_folder.Combine("cache-root", "thumbnails"));

        // The sign-in page, signed out.
        var anonymous = await (await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = _baseUrl })).NewPageAsync();
        await anonymous.GotoAsync("/account/login");
        await ShotAsync(anonymous, "sign-in");

        // Olivia, an operator, watches the queue and the learning page; she reports the error herself.
        var olivia = await SignInAsync("olivia");
        await Expect(olivia.Locator("#approvals-empty")).ToBeVisibleAsync();
        var learning = await olivia.Context.NewPageAsync();
        await GoAsync(learning, "/learning");
        await Expect(learning.Locator("#learning-empty")).ToBeVisibleAsync();

        var posted = await olivia.Context.APIRequest.PostAsync("/api/signals", new APIRequestContextOptions
        {
            DataObject = new { source = "thumbnailer", message = TestCatalog.CacheMessage, severity = "Error" },
        });
        Assert.Equal(202, posted.Status);

        // The request appears in the open queue without a reload; Olivia asked for it, so she cannot approve it.
        var card = olivia.Locator(".approval-card");
        await Expect(card).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 20_000 });
        await Expect(card).ToContainTextAsync("Tier 2");
        await Expect(card).ToContainTextAsync("directory.bytes of test-cache");
        await Expect(olivia.Locator(".no-approve-reason")).ToContainTextAsync("another operator must decide");
        await Expect(olivia.Locator(".approve-button")).ToHaveCountAsync(0);
        await ShotAsync(olivia, "approvals");
        var missionId = Guid.Parse((await card.GetAttributeAsync("data-mission"))!);

        // Victor, a viewer, sees the card but no button, and a crafted request is refused by the engine.
        var victor = await SignInAsync("victor");
        await Expect(victor.Locator(".approval-card")).ToBeVisibleAsync();
        await Expect(victor.Locator(".approve-button")).ToHaveCountAsync(0);
        var crafted = await victor.Context.APIRequest.PostAsync($"/api/missions/{missionId}/approve", new APIRequestContextOptions { DataObject = new { reason = "let me" } });
        Assert.Equal(403, crafted.Status);
        Assert.Contains("Operator", await crafted.TextAsync());

        // Oscar, a second operator, approves.
        var oscar = await SignInAsync("oscar");
        await oscar.Locator(".approval-card .approve-button").ClickAsync();
        await Expect(oscar.Locator("#approvals-empty")).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 20_000 });
        await Expect(olivia.Locator("#approvals-empty")).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 20_000 });

        // The timeline shows the approval, the execution and the verified contract.
        await GoAsync(oscar, $"/missions/{missionId}");
        await Expect(oscar.Locator(".timeline-item.kind-contract-met")).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 30_000 });
        await Expect(oscar.Locator(".timeline-item.kind-approved")).ToContainTextAsync("by oscar");
        await Expect(oscar.Locator(".timeline-item.kind-executed")).ToContainTextAsync("Moved");
        await Expect(oscar.Locator("#contract-verdict")).ToHaveTextAsync("Met");
        await ShotAsync(oscar, "mission-timeline");

        // Olivia's learning page counted the run, live.
        await Expect(learning.Locator(".stat-runs")).ToHaveTextAsync("1", new LocatorAssertionsToHaveTextOptions { Timeout = 20_000 });
        await Expect(learning.Locator(".stat-success")).ToContainTextAsync("100");
        await ShotAsync(learning, "learning");

        // Every other page, for the README.
        var lena = await SignInAsync("lena");
        foreach (var (path, name, ready) in new[]
        {
            ("/", "overview", "#count-pending"),
            ("/missions", "missions", "tr.mission-row"),
            ("/incidents", "incidents", "tr.incident-row"),
            ("/verification", "verification", "#verification-totals"),
            ("/playbooks", "playbooks", ".playbook-card"),
            ("/audit", "audit-log", "tr.audit-row"),
        })
        {
            await GoAsync(lena, path);
            await Expect(lena.Locator(ready).First).ToBeVisibleAsync();
            await ShotAsync(lena, name);
        }

        // Who approved, and from where: the address of Oscar's browser, as the server saw his console's connection.
        var approval = lena.Locator("tr.audit-row").Filter(new LocatorFilterOptions { HasText = "mission.approve" });
        await Expect(approval).ToContainTextAsync("oscar");
        await Expect(approval).ToContainTextAsync("127.0.0.1");
        await GoAsync(lena, $"/verification?mission={missionId}");
        await Expect(lena.Locator("#no-benchmarks")).ToBeVisibleAsync();
        var admin = await SignInAsync("admin", TestCatalog.AdminPassword);
        await GoAsync(admin, "/users");
        await Expect(admin.Locator("text=olivia")).ToBeVisibleAsync();
        await ShotAsync(admin, "users");
        await GoAsync(admin, "/api-keys");
        await admin.Locator("#key-name input, input#key-name").First.FillAsync("alertmanager");
        await admin.ClickAsync("#create-key");
        await Expect(admin.Locator("#created-key")).ToContainTextAsync("grace_");
        await ShotAsync(admin, "api-keys");
    }

    [Fact]
    public async Task An_open_page_keeps_its_sign_in_after_a_strangers_wrong_passwords_and_loses_it_when_an_admin_disables_the_person()
    {
        // Each check of an open page against the database, as the product counts them.
        long kept = 0, ended = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Grace.Web.Identity.SessionRevalidation.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "outcome" && tag.Value as string == "kept")
                {
                    Interlocked.Add(ref kept, value);
                }
                else if (tag.Key == "outcome")
                {
                    Interlocked.Add(ref ended, value);
                }
            }
        });
        listener.Start();

        TestCatalog.FillCache(_folder.Combine("cache-root", "thumbnails"));
        var olivia = await SignInAsync("olivia");
        await Expect(olivia.Locator("#signed-in-user")).ToHaveTextAsync("olivia");

        // A stranger guesses Olivia's password five times: the account is locked for new sign-ins...
        var stranger = await (await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = _baseUrl })).NewPageAsync();
        for (var i = 0; i < 5; i++)
        {
            await stranger.GotoAsync("/account/login");
            await stranger.FillAsync("#userName", "olivia");
            await stranger.FillAsync("#password", $"Not-Her-Password-{i}");
            await stranger.ClickAsync("#sign-in");
        }

        await Expect(stranger.Locator("#login-error")).ToContainTextAsync("locked for 15 minutes");
        await using (var scope = _host.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<GraceUser>>();
            var user = (await users.FindByNameAsync("olivia"))!;
            Assert.True(await users.IsLockedOutAsync(user));
            Assert.InRange((await users.GetLockoutEndDateAsync(user))!.Value - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(14), TimeSpan.FromMinutes(15));
        }

        // ...but Olivia's open page is checked twice more after the lockout and stays signed in, live.
        var keptBefore = Interlocked.Read(ref kept);
        for (var deadline = DateTime.UtcNow.AddSeconds(20); Interlocked.Read(ref kept) < keptBefore + 2; await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, "open pages were not checked against the database");
        }

        Assert.Equal(0, Interlocked.Read(ref ended));
        await Expect(olivia).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/approvals$"));
        await Expect(olivia.Locator("#signed-in-user")).ToHaveTextAsync("olivia");
        var posted = await (await SignInAsync("oscar")).Context.APIRequest.PostAsync("/api/signals", new APIRequestContextOptions
        {
            DataObject = new { source = "thumbnailer", message = TestCatalog.CacheMessage },
        });
        Assert.Equal(202, posted.Status);
        await Expect(olivia.Locator(".approval-card")).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 20_000 });

        // An Admin disables her: the open page loses its sign-in and goes to the sign-in form.
        await _host.Services.GetRequiredService<Grace.Web.Identity.UserAdministration>().SetDisabledAsync(new Actor("admin", [GraceRoles.Admin]), "olivia", disabled: true);
        await Expect(olivia).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/account/login"), new PageAssertionsToHaveURLOptions { Timeout = 20_000 });
        Assert.True(Interlocked.Read(ref ended) >= 1);
        await olivia.GotoAsync("/approvals");
        await Expect(olivia).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/account/login"));
    }

    [Fact]
    public async Task An_admin_breaks_the_demo_services_health_endpoint_and_watches_grace_reset_it()
    {
        var admin = await SignInAsync("admin", TestCatalog.AdminPassword);
        await GoAsync(admin, "/faults");
        await Expect(admin.Locator("#fault-description")).ToContainTextAsync("-wal file grows");

        // Choose the fault as a person would: open the list, pick it; the page offers the demo service.
        await admin.Locator(".mud-select").Filter(new LocatorFilterOptions { HasText = "Fault" }).First.ClickAsync();
        await admin.Locator(".mud-popover-open .mud-list-item").Filter(new LocatorFilterOptions { HasText = "Make a health endpoint fail" }).ClickAsync();
        await Expect(admin.Locator("#fault-description")).ToContainTextAsync("answer 503");
        await Expect(admin.Locator("#fault-targets")).ToContainTextAsync("demo-orders-api");
        await admin.ClickAsync("#inject");
        await Expect(admin.Locator("#fault-result")).ToContainTextAsync("is stuck");
        await ShotAsync(admin, "faults");

        // Nobody reported anything: the health check notices, and the tier-1 reset runs and is verified, live on the list.
        await GoAsync(admin, "/missions");
        await Expect(admin.Locator("tr.mission-row.state-Succeeded").Filter(new LocatorFilterOptions { HasText = "reset-demo-api-pool" }))
            .ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 30_000 });
        await ShotAsync(admin, "missions-after-fault");

        // The demo service's orders benchmark, before (every request waited for the pool) and after the reset.
        var link = await admin.Locator("tr.mission-row a").Filter(new LocatorFilterOptions { HasText = "reset-demo-api-pool" }).First.GetAttributeAsync("href");
        await GoAsync(admin, $"/verification?mission={link!.Split('/')[^1]}");
        await Expect(admin.Locator(".benchmark-verdict")).ToHaveTextAsync("No regression");
        await ShotAsync(admin, "verification-mission");

        // The admin then chooses their own password, from their name in the app bar.
        await admin.ClickAsync("#signed-in-user");
        await Expect(admin).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/account/password$"));
        await admin.FillAsync("#currentPassword", TestCatalog.AdminPassword);
        await admin.FillAsync("#newPassword", "Chosen-By-The-Admin-7");
        await admin.FillAsync("#confirmPassword", "Chosen-By-The-Admin-7");
        await admin.ClickAsync("#change-password");
        await Expect(admin.Locator("#password-changed")).ToBeVisibleAsync();
        await ShotAsync(admin, "password");
        await SignInAsync("admin", "Chosen-By-The-Admin-7");
    }
}
