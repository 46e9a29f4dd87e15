using Deque.AxeCore.Playwright;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Grace.Tests.Browser;

/// <summary>
/// One Grace and one Chromium for the whole class (the tests only read, or change rows of their own):
/// a few seeded missions and incidents, and people of every role.
/// </summary>
public sealed class ShellFixture : IAsyncLifetime
{
    public const string Password = "Shell-Test-Password-1";
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private IPlaywright _playwright = null!;

    public GraceHost Host { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public string BaseUrl { get; private set; } = "";

    /// <summary>A failed mission with a later success of the same playbook, target and pattern.</summary>
    public Guid Superseded { get; private set; }

    /// <summary>A failed mission nothing healed later: the one the dismissal test dismisses.</summary>
    public Guid Failed { get; private set; }

    public Guid Incident { get; private set; }

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        Host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Faults:Enabled"] = "true",
        }));
        Host.UseKestrel(0);
        Host.StartServer();
        BaseUrl = Host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
        await Host.CreateUserAsync("ada", Password, GraceRoles.Admin);
        await Host.CreateUserAsync("olivia", Password, GraceRoles.Operator);
        await Host.CreateUserAsync("larry", Password, GraceRoles.Operator);
        await using (var scope = Host.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<GraceUser>>();
            var larry = (await users.FindByNameAsync("larry"))!;
            await users.SetLockoutEnabledAsync(larry, true);
            await users.SetLockoutEndDateAsync(larry, DateTimeOffset.UtcNow.AddMinutes(15));
        }

        await SeedAsync();
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("GRACE_TEST_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
    }

    private async Task SeedAsync()
    {
        await using var db = Host.CreateDb();
        var now = DateTimeOffset.UtcNow;
        Incident NewIncident(string source, string message, string pattern) => new()
        {
            Id = Guid.NewGuid(), Fingerprint = Guid.NewGuid().ToString("N"), Source = source, Template = message, SampleMessage = message,
            Severity = Severity.Error, FirstSeenAt = now.AddHours(-2), LastSeenAt = now.AddMinutes(-5), OpenedAt = now.AddHours(-2), Count = 7,
            Status = IncidentStatus.Open, PatternKey = pattern,
        };
        Mission NewMission(Incident incident, string playbook, MissionState state, DateTimeOffset at, string? reason = null) => new()
        {
            Id = Guid.NewGuid(), IncidentId = incident.Id, PatternKey = incident.PatternKey!, PlaybookKey = playbook, Action = "cache.clear", Target = "test-cache",
            Parameters = "{}", Tier = 2, State = state, Stage = PipelineStage.Learn, RequestedBy = "engine", CreatedAt = at, UpdatedAt = at.AddMinutes(1),
            StatusReason = reason,
        };

        var thumbnails = NewIncident("thumbnailer", "Thumbnail write failed: test cache full", "test-cache");
        var orders = NewIncident("orders-api", "Connection pool exhausted after 30 s", "test-wal");
        orders.Status = IncidentStatus.Resolved;
        var old = NewMission(thumbnails, "test-clear-cache", MissionState.Failed, now.AddHours(-3), "the cache could not be moved: disk busy");
        var later = NewMission(thumbnails, "test-clear-cache", MissionState.Succeeded, now.AddHours(-1));
        var failed = NewMission(orders, "test-checkpoint", MissionState.RolledBack, now.AddMinutes(-30), "the WAL grew back within the deadline");
        failed.Target = "test-db";
        db.Incidents.AddRange(thumbnails, orders);
        db.Missions.AddRange(old, later, failed);
        db.AuditEntries.Add(new AuditEntry { At = now, Actor = "lena", Action = "playbook.tier", Subject = "playbook/test-checkpoint", Detail = "0 → 2" });
        await db.SaveChangesAsync();
        (Superseded, Failed, Incident) = (old.Id, failed.Id, thumbnails.Id);
    }

    public async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
        await Host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }
}

/// <summary>
/// The console's shell in a real browser: every page at desktop, tablet and phone width (no sideways
/// overflow, no serious accessibility violation, screenshots in docs/screenshots), filters in the
/// address, Grace's own 404, the "/" key, remembered dark mode, unlocking a person, dismissing a mission.
/// </summary>
public sealed class ShellBrowserTests(ShellFixture fixture) : IClassFixture<ShellFixture>
{
    private async Task<IPage> SignInAsync(string user, int width = 1440, int height = 900)
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = fixture.BaseUrl, ViewportSize = new ViewportSize { Width = width, Height = height } });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/account/login");
        await page.FillAsync("#userName", user);
        await page.FillAsync("#password", ShellFixture.Password);
        await page.ClickAsync("#sign-in");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/$"));
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

    [Fact]
    public async Task Every_page_fits_desktop_tablet_and_phone_without_serious_accessibility_violations()
    {
        var pages = new (string Path, string Name, string Ready, string Title)[]
        {
            ("/", "overview", "#count-pending", "Overview · Grace"),
            ("/approvals", "approvals", "#approvals-empty", "Approvals · Grace"),
            ("/missions", "missions", "tr.mission-row", "Missions · Grace"),
            ($"/missions/{fixture.Superseded}", "mission", "#mission-incident-link", "Mission · Grace"),
            ("/incidents", "incidents", "tr.incident-row", "Incidents · Grace"),
            ($"/incidents/{fixture.Incident}", "incident", ".incident-mission-link", "Incident · Grace"),
            ("/learning", "learning", "main h5, main .mud-typography-h5", "Learning · Grace"),
            ("/verification", "verification", "#verification-totals", "Verification · Grace"),
            ("/playbooks", "playbooks", ".playbook-card", "Playbooks · Grace"),
            ("/audit", "audit-log", "tr.audit-row", "Audit log · Grace"),
            ("/users", "users", "tr.user-row", "Users · Grace"),
            ("/api-keys", "api-keys", "main .mud-typography-h5", "API keys · Grace"),
            ("/faults", "faults", "#fault-description", "Faults · Grace"),
            ("/notifications", "notifications", "main .mud-typography-h5", "Notifications · Grace"),
            ("/account/password", "password", "#password-user", "Password · Grace"),
            ("/no-such-page", "not-found", "#not-found", "Not found · Grace"),
        };
        List<string> problems = [];
        foreach (var (width, height) in new[] { (1440, 900), (768, 1024), (390, 844) })
        {
            var page = await SignInAsync("ada", width, height);
            foreach (var (path, name, ready, title) in pages)
            {
                await page.GotoAsync(path);
                await Expect(page.Locator(ready).First).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 20_000 });
                await Expect(page).ToHaveTitleAsync(title);
                // The tablet pass checks the width only: the phone and desktop passes scan every page (it keeps the set fast).
                await CheckAsync(page, $"{name}-{width}", width != 768, problems);
            }

            await page.Context.CloseAsync();
        }

        // Signed out: the sign-in page.
        foreach (var (width, height) in new[] { (1440, 900), (390, 844) })
        {
            var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = fixture.BaseUrl, ViewportSize = new ViewportSize { Width = width, Height = height } });
            var page = await context.NewPageAsync();
            await page.GotoAsync("/account/login");
            await Expect(page).ToHaveTitleAsync("Sign in · Grace");
            await CheckAsync(page, $"sign-in-{width}", true, problems);
            await context.CloseAsync();
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>No sideways scrolling, no serious or critical axe violation; a screenshot for the docs at 1440 and 390.</summary>
    private static async Task CheckAsync(IPage page, string name, bool full, List<string> problems)
    {
        var widths = await page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, window.innerWidth]");
        var (scroll, inner) = (widths[0], widths[1]);
        if (scroll > inner)
        {
            problems.Add($"{name}: {scroll} px wide in a {inner} px window");
        }

        if (!full)
        {
            return;
        }

        var axe = await page.RunAxe();
        foreach (var violation in axe.Violations.Where(v => v.Impact is "serious" or "critical"))
        {
            problems.Add($"{name}: {violation.Impact} {violation.Id} ({violation.Help}) at {string.Join(" | ", violation.Nodes.Take(3).Select(n => n.Html))}");
        }

        await DocScreenshots.TakeAsync(page, name);
    }

    [Fact]
    public async Task Filters_live_in_the_address_and_survive_a_reload()
    {
        var page = await SignInAsync("olivia");

        // A shared link opens the list already filtered.
        await GoAsync(page, "/incidents?q=POOL&state=Resolved");
        await Expect(page.Locator("tr.incident-row")).ToHaveCountAsync(1);
        await Expect(page.Locator("tr.incident-row")).ToContainTextAsync("orders-api");
        await Expect(page.Locator("#incident-search")).ToHaveValueAsync("POOL");

        // Typing changes the address in place (no reload), and a reload keeps the filter.
        await page.FillAsync("#incident-search", "thumbnail");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("q=thumbnail"));
        await Expect(page.Locator("tr.incident-row")).ToHaveCountAsync(0);
        await page.ReloadAsync();
        await WaitInteractiveAsync(page);
        await Expect(page.Locator("#incident-search")).ToHaveValueAsync("thumbnail");

        await GoAsync(page, "/missions?state=Failed&q=clear");
        await Expect(page.Locator("tr.mission-row")).ToHaveCountAsync(1);
        await Expect(page.Locator("tr.mission-row")).ToContainTextAsync("test-clear-cache");

        // From an incident to its missions, and back.
        await GoAsync(page, "/incidents?q=thumbnail");
        await page.Locator("tr.incident-row .incident-missions-link").ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/missions\\?incident={fixture.Incident}"));
        await Expect(page.Locator("tr.mission-row")).ToHaveCountAsync(2);
        await page.Locator("tr.mission-row .mission-incident-link").First.ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/incidents/{fixture.Incident}$"));

        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task An_unknown_address_shows_graces_own_page_inside_the_shell_and_slash_focuses_search()
    {
        var page = await SignInAsync("olivia");
        var response = await page.GotoAsync("/no/such/page");
        Assert.Equal(404, response!.Status);
        await Expect(page.Locator("#not-found")).ToBeVisibleAsync();
        await Expect(page.Locator("#signed-in-user")).ToBeVisibleAsync();
        await Expect(page.Locator("main")).ToHaveCountAsync(1);

        // A link inside the circuit to an unknown page gets the same page.
        await WaitInteractiveAsync(page);
        await page.EvaluateAsync("() => Blazor.navigateTo('/also/missing')");
        await Expect(page.Locator("#not-found")).ToBeVisibleAsync();

        await GoAsync(page, "/missions");
        await page.Locator("main").ClickAsync(new LocatorClickOptions { Position = new Position { X = 5, Y = 5 } });
        await page.Keyboard.PressAsync("/");
        await Expect(page.Locator("#mission-search")).ToBeFocusedAsync();
        // Typed into the box, "/" is a character like any other.
        await page.Keyboard.TypeAsync("a/b");
        await Expect(page.Locator("#mission-search")).ToHaveValueAsync("a/b");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Dark_mode_is_remembered_across_a_reload()
    {
        var page = await SignInAsync("olivia");
        var light = await BackgroundAsync(page);
        await page.EvaluateAsync("() => { window.graceSameDocument = true; }");
        await page.Locator("#dark-mode").ClickAsync();
        await Expect(page.Locator("#dark-mode")).ToHaveAttributeAsync("aria-label", "Use the light theme");
        // The toggle is a few lines of grace.js on the static shell: the theme comes back from the server in place.
        Assert.True(await page.EvaluateAsync<bool>("() => window.graceSameDocument === true"), "the toggle reloaded the whole document");
        await WaitInteractiveAsync(page);
        var dark = await BackgroundAsync(page);
        Assert.NotEqual(light, dark);

        await page.ReloadAsync();
        // Dark from the first byte: the server rendered it from the cookie, before the circuit connected.
        Assert.Equal(dark, await BackgroundAsync(page));
        await WaitInteractiveAsync(page);
        Assert.Equal(dark, await BackgroundAsync(page));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_shell_is_server_rendered_and_only_the_page_is_interactive()
    {
        var page = await SignInAsync("olivia");

        // The HTML as the server sends it: the drawer and app bar are plain markup, and the only interactive root
        // (Blazor's "type":"server" marker) is the page: not the layout, not the shell's live figures (the 300 KB goal).
        var html = await (await page.Context.APIRequest.GetAsync("/missions")).TextAsync();
        var roots = System.Text.RegularExpressions.Regex.Count(html, "<!--Blazor:\\{[^>]*?\"type\":\"server\"");
        Assert.Equal(1, roots);
        var drawer = html.IndexOf("id=\"grace-drawer\"", StringComparison.Ordinal);
        Assert.True(drawer > 0, "the drawer is not in the server's HTML");
        Assert.Matches("<a[^>]*href=\"/missions\"[^>]*class=\"[^\"]*active|<a[^>]*class=\"[^\"]*active[^\"]*\"[^>]*href=\"/missions\"", html);

        // A nav link navigates in place (enhanced navigation: the document is not reloaded), the new page goes
        // live in the same tab, and the active link follows, computed by the server for the new address.
        await page.EvaluateAsync("() => { window.graceSameDocument = true; }");
        await page.Locator("#grace-drawer a[href='/incidents']").ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/incidents$"));
        await Expect(page.Locator("tr.incident-row").First).ToBeVisibleAsync();
        await WaitInteractiveAsync(page);
        Assert.True(await page.EvaluateAsync<bool>("() => window.graceSameDocument === true"), "the nav link reloaded the whole document");
        await Expect(page.Locator("#grace-drawer a.active")).ToHaveAttributeAsync("href", "/incidents");
        await Expect(page).ToHaveTitleAsync("Incidents · Grace");

        // The new page is interactive: its filter still changes the address in place.
        await page.FillAsync("#incident-search", "thumbnail");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("q=thumbnail"));
        await Expect(page.Locator("tr.incident-row")).ToHaveCountAsync(1);
        Assert.True(await page.EvaluateAsync<bool>("() => window.graceSameDocument === true"));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_pending_badge_and_the_kill_switch_banner_follow_other_tabs_live()
    {
        var page = await SignInAsync("olivia");
        await GoAsync(page, "/missions");
        await Expect(page.Locator("#nav-pending")).ToHaveCountAsync(0);
        await Expect(page.Locator("#kill-switch-banner")).ToHaveCountAsync(0);

        // Someone else's action (here straight through the engine's services) reaches this open page.
        var notifier = fixture.Host.Services.GetRequiredService<Grace.Engine.Notifications.IPipelineNotifier>();
        var killSwitch = fixture.Host.Services.GetRequiredService<Grace.Engine.Gate.KillSwitch>();
        Guid waiting;
        await using (var db = fixture.Host.CreateDb())
        {
            var incident = db.Incidents.First();
            var now = DateTimeOffset.UtcNow;
            var mission = new Mission
            {
                Id = Guid.NewGuid(), IncidentId = incident.Id, PatternKey = "test-cache", PlaybookKey = "test-clear-cache", Action = "cache.clear", Target = "test-cache",
                Parameters = "{}", Tier = 3, State = MissionState.AwaitingApproval, Stage = PipelineStage.Gate, RequestedBy = "engine", CreatedAt = now, UpdatedAt = now,
            };
            db.Missions.Add(mission);
            await db.SaveChangesAsync();
            waiting = mission.Id;
        }

        try
        {
            notifier.Publish(new Grace.Engine.Notifications.ApprovalRequested(DateTimeOffset.UtcNow, waiting, "test-clear-cache", "test-cache", 3, 1, DateTimeOffset.UtcNow.AddMinutes(30)));
            await Expect(page.Locator("#nav-pending")).ToHaveTextAsync("1", new LocatorAssertionsToHaveTextOptions { Timeout = 15_000 });

            await killSwitch.SetAsync(true, new Actor("ada", [GraceRoles.Admin]), "shell test", CancellationToken.None);
            await Expect(page.Locator("#kill-switch-banner")).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 15_000 });

            // Both figures survive an in-place navigation (the server renders them with the new page) and stay live.
            await page.Locator("#grace-drawer a[href='/incidents']").ClickAsync();
            await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/incidents$"));
            await Expect(page.Locator("#kill-switch-banner")).ToBeVisibleAsync();
            await killSwitch.SetAsync(false, new Actor("ada", [GraceRoles.Admin]), null, CancellationToken.None);
            await Expect(page.Locator("#kill-switch-banner")).ToHaveCountAsync(0, new LocatorAssertionsToHaveCountOptions { Timeout = 15_000 });
        }
        finally
        {
            await killSwitch.SetAsync(false, new Actor("ada", [GraceRoles.Admin]), null, CancellationToken.None);
            await using var db = fixture.Host.CreateDb();
            // Gone again, not merely decided: the other tests count this incident's missions.
            db.Missions.Remove(db.Missions.Single(m => m.Id == waiting));
            await db.SaveChangesAsync();
            notifier.Publish(new Grace.Engine.Notifications.ApprovalDecided(DateTimeOffset.UtcNow, waiting, "ada", ApprovalVerdict.Reject, ApprovalStatus.Rejected, 0, 1));
        }

        await Expect(page.Locator("#nav-pending")).ToHaveCountAsync(0, new LocatorAssertionsToHaveCountOptions { Timeout = 15_000 });
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_list_rendered_per_request_follows_events_live_and_keeps_what_is_being_typed()
    {
        var page = await SignInAsync("olivia");
        // The list is server-rendered HTML; its one interactive root is the live refresher, which holds no rows.
        await GoAsync(page, "/incidents?q=thumbnail");
        await Expect(page.Locator("tr.incident-row .incident-count")).ToHaveTextAsync("7");
        // grace.js named the browser's zone in a cookie, and the table was fetched again in it: no "UTC" suffix.
        await Expect(page.Locator("tr.incident-row td[data-label='First seen'] .when")).Not.ToContainTextAsync(" UTC", new LocatorAssertionsToContainTextOptions { Timeout = 15_000 });
        await page.EvaluateAsync("() => { window.graceSameDocument = true; }");
        await page.Locator("#incident-search").FocusAsync();

        var notifier = fixture.Host.Services.GetRequiredService<Grace.Engine.Notifications.IPipelineNotifier>();
        try
        {
            await using (var db = fixture.Host.CreateDb())
            {
                db.Incidents.Single(i => i.Id == fixture.Incident).Count = 8;
                await db.SaveChangesAsync();
            }

            notifier.Publish(new Grace.Engine.Notifications.IncidentUpdated(DateTimeOffset.UtcNow, fixture.Incident, "f", "thumbnailer", IncidentStatus.Open, 8, false));
            await Expect(page.Locator("tr.incident-row .incident-count")).ToHaveTextAsync("8", new LocatorAssertionsToHaveTextOptions { Timeout = 15_000 });
            // In place: the same document, the search box still focused and holding its text, the address unchanged.
            Assert.True(await page.EvaluateAsync<bool>("() => window.graceSameDocument === true"), "the live refresh reloaded the whole document");
            await Expect(page.Locator("#incident-search")).ToBeFocusedAsync();
            await Expect(page.Locator("#incident-search")).ToHaveValueAsync("thumbnail");
            await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/incidents\\?q=thumbnail$"));
        }
        finally
        {
            await using var db = fixture.Host.CreateDb();
            db.Incidents.Single(i => i.Id == fixture.Incident).Count = 7;
            await db.SaveChangesAsync();
        }

        // Sorting and paging are links now: the sorted column is in the address, and survives a reload.
        await GoAsync(page, "/missions");
        await page.EvaluateAsync("() => { window.graceSameDocument = true; }");
        await page.Locator("th a.mud-table-sort-label", new PageLocatorOptions { HasText = "Playbook" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("sort=playbook&dir=asc"));
        await Expect(page.Locator("th[aria-sort=ascending]")).ToContainTextAsync("Playbook");
        await Expect(page.Locator("tr.mission-row td[data-label=Playbook]").First).ToHaveTextAsync("test-checkpoint");
        Assert.True(await page.EvaluateAsync<bool>("() => window.graceSameDocument === true"), "sorting reloaded the whole document");
        await page.Locator("#state-filter").SelectOptionAsync("Succeeded");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("state=Succeeded"));
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("sort=playbook"));
        await Expect(page.Locator("tr.mission-row")).ToHaveCountAsync(1);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task On_a_phone_the_menu_opens_over_the_page_and_closes_on_a_tap_outside()
    {
        var page = await SignInAsync("olivia", 390, 844);
        var drawer = page.Locator("#grace-drawer");
        await Expect(drawer).Not.ToBeInViewportAsync();
        await Expect(page.Locator("#grace-menu")).ToHaveAttributeAsync("aria-expanded", "false");

        await page.ClickAsync("#grace-menu");
        await Expect(drawer).ToBeInViewportAsync();
        await Expect(page.Locator("#grace-menu")).ToHaveAttributeAsync("aria-expanded", "true");
        // Over the page, not beside it: the page keeps its full width.
        Assert.Equal(0, await page.EvaluateAsync<int>("() => Math.round(document.querySelector('.grace-main').getBoundingClientRect().left)"));

        await page.Mouse.ClickAsync(370, 400);
        await Expect(drawer).Not.ToBeInViewportAsync();

        // A link in the open menu navigates and closes it.
        await page.ClickAsync("#grace-menu");
        await page.Locator("#grace-drawer a[href='/missions']").ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/missions$"));
        await Expect(drawer).Not.ToBeInViewportAsync();
        await page.Context.CloseAsync();
    }

    private static Task<string> BackgroundAsync(IPage page) =>
        page.EvaluateAsync<string>("() => getComputedStyle(document.body).backgroundColor");

    [Fact]
    public async Task A_trust_decision_is_picked_by_a_row_link_typed_into_the_focused_reason_and_posted()
    {
        // Learning's trust panel holds no circuit (ADR 0037): the row's link names the decision, grace.js gives the
        // reason field its focus after the enhanced navigation, and the form posts with its antiforgery token.
        var page = await SignInAsync("ada");
        await GoAsync(page, "/learning");
        var row = page.Locator("#trust-table tr").Filter(new LocatorFilterOptions { Has = page.Locator(".trust-playbook", new PageLocatorOptions { HasText = "test-checkpoint" }) });
        await row.Locator(".trust-shadow-toggle").ClickAsync();
        await Expect(page.Locator("#trust-form-what")).ToContainTextAsync("Run 'test-checkpoint' in shadow");
        await Expect(page.Locator("#trust-reason")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync("watch it during the migration");
        await page.Locator(".trust-confirm").ClickAsync();
        await Expect(page.Locator("#trust-done")).ToContainTextAsync("'test-checkpoint' runs in shadow");
        await Expect(row.Locator(".trust-shadow-toggle")).ToHaveTextAsync("Let it act");
        await Expect(page.Locator("#trust-reason")).ToBeDisabledAsync();
        await using (var db = fixture.Host.CreateDb())
        {
            Assert.Contains(db.AuditEntries.ToList(), a => a.Action == "playbook.shadow" && a.Actor == "ada" && a.Subject == "playbook/test-checkpoint"
                && a.Detail == "shadow off → on: watch it during the migration");
        }

        // Back out of shadow, so the other tests of this class see the catalog as configured.
        await row.Locator(".trust-shadow-toggle").ClickAsync();
        await Expect(page.Locator("#trust-reason")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync("done");
        await page.Locator(".trust-confirm").ClickAsync();
        await Expect(page.Locator("#trust-done")).ToContainTextAsync("'test-checkpoint' acts again.");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task An_admin_unlocks_a_locked_out_person()
    {
        var page = await SignInAsync("ada");
        await GoAsync(page, "/users");
        var row = page.Locator("tr.user-larry");
        await Expect(row.Locator(".user-status")).ToContainTextAsync("Locked");
        await row.Locator(".unlock-user").ClickAsync();
        await Expect(row.Locator(".user-status")).ToHaveTextAsync("Active");
        await Expect(row.Locator(".unlock-user")).ToHaveCountAsync(0);
        await using var db = fixture.Host.CreateDb();
        Assert.Contains(db.AuditEntries.ToList(), a => a.Action == "user.unlock" && a.Actor == "ada" && a.Subject == "user/larry");
        await page.Context.CloseAsync();

        // Larry signs in again; a wrong password keeps his name in the form.
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = fixture.BaseUrl });
        var signIn = await context.NewPageAsync();
        await signIn.GotoAsync("/account/login");
        await signIn.FillAsync("#userName", "larry");
        await signIn.FillAsync("#password", "not-his-password");
        await signIn.ClickAsync("#sign-in");
        await Expect(signIn.Locator("#login-error")).ToBeVisibleAsync();
        await Expect(signIn.Locator("#userName")).ToHaveValueAsync("larry");
        await signIn.FillAsync("#password", ShellFixture.Password);
        await signIn.ClickAsync("#sign-in");
        await Expect(signIn).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/$"));
        await context.CloseAsync();
    }

    [Fact]
    public async Task The_console_socket_declines_compression_so_no_circuit_keeps_zlib_state()
    {
        // Browsers offer permessage-deflate; Grace declines it, so no circuit keeps a zlib compressor and inflater for
        // the life of the tab (docs/benchmarks.md, issue 13). Checked on the handshake itself, offered as a browser does.
        var page = await SignInAsync("olivia");
        var cookie = string.Join("; ", (await page.Context.CookiesAsync()).Select(c => $"{c.Name}={c.Value}"));
        await page.Context.CloseAsync();
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        using var negotiate = new HttpRequestMessage(HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1");
        negotiate.Headers.Add("Cookie", cookie);
        using var answer = await http.SendAsync(negotiate);
        answer.EnsureSuccessStatusCode();
        var token = System.Text.Json.JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("connectionToken").GetString();

        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.SetRequestHeader("Cookie", cookie);
        socket.Options.DangerousDeflateOptions = new System.Net.WebSockets.WebSocketDeflateOptions();
        socket.Options.CollectHttpResponseDetails = true;
        var address = new UriBuilder(new Uri(new Uri(fixture.BaseUrl), $"/_blazor?id={Uri.EscapeDataString(token!)}")) { Scheme = "ws" }.Uri;
        await socket.ConnectAsync(address, CancellationToken.None);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, socket.State);
        var extensions = string.Join(", ", socket.HttpResponseHeaders!.TryGetValue("Sec-WebSocket-Extensions", out var values) ? values : []);
        Assert.DoesNotContain("permessage-deflate", extensions, StringComparison.Ordinal);
        await socket.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
    }

    [Fact]
    public async Task A_failed_mission_is_dismissed_from_the_overview_and_an_old_one_shows_as_superseded()
    {
        var page = await SignInAsync("olivia");
        var superseded = page.Locator("tr.trouble-row.superseded");
        await Expect(superseded).ToHaveCountAsync(1);
        await Expect(superseded).ToContainTextAsync("test-clear-cache");
        await Expect(superseded.Locator(".superseded-chip")).ToBeVisibleAsync();

        var failed = page.Locator("tr.trouble-row", new PageLocatorOptions { HasText = "test-checkpoint" });
        await failed.Locator(".dismiss-mission").ClickAsync();
        await Expect(failed).ToHaveCountAsync(0);
        await Expect(page.Locator("#dismissed-count")).ToContainTextAsync("1 dismissed");

        await page.ReloadAsync();
        await WaitInteractiveAsync(page);
        await Expect(page.Locator("tr.trouble-row", new PageLocatorOptions { HasText = "test-checkpoint" })).ToHaveCountAsync(0);

        await using var db = fixture.Host.CreateDb();
        var mission = db.Missions.Single(m => m.Id == fixture.Failed);
        Assert.Equal("olivia", mission.DismissedBy);
        Assert.Contains(db.AuditEntries.ToList(), a => a.Action == "mission.dismiss" && a.Actor == "olivia" && a.Subject == $"mission/{fixture.Failed}");
        Assert.Contains(db.MissionEvents.ToList(), e => e.MissionId == fixture.Failed && e.Kind == MissionDismissals.DismissedEvent);
        await page.Context.CloseAsync();
    }
}
