using System.Net;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>Sign-in, roles and the audit log, on the real host.</summary>
public sealed class SecurityTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings())).Start();
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/approvals")]
    [InlineData("/missions")]
    [InlineData("/learning")]
    [InlineData("/verification")]
    [InlineData("/incidents")]
    [InlineData("/playbooks")]
    [InlineData("/audit")]
    [InlineData("/users")]
    public async Task Every_page_sends_a_signed_out_visitor_to_sign_in(string page)
    {
        using var client = _host.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var response = await client.GetAsync(page);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        // A path, never an absolute URL built from the request's Host header (issue 13).
        Assert.StartsWith("/account/login", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task Downloads_need_sign_in_and_the_sign_in_page_does_not()
    {
        using var client = _host.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/outcomes.csv")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/account/login")).StatusCode);
    }

    [Fact]
    public async Task A_person_at_the_circuit_cap_gets_a_page_saying_why_instead_of_a_console_that_cannot_connect()
    {
        using var client = _host.ClientWithCookie(await _host.SignInAsync("admin", TestCatalog.AdminPassword));
        var limiter = _host.Get<Grace.Web.Security.ConnectionLimiter>();
        var cap = _host.Get<Microsoft.Extensions.Options.IOptionsMonitor<Grace.Web.Security.GraceHttpOptions>>().CurrentValue.MaxCircuitsPerUser;
        // The admin's other tabs, as the circuit middleware counts them.
        var tabs = Enumerable.Range(0, cap).Select(i => limiter.TryAcquire(Grace.Web.Security.ConnectionKind.Circuit, "admin", out _)).ToList();
        Assert.All(tabs, Assert.NotNull);

        var refused = await client.GetAsync("/approvals?state=waiting");
        var page = await refused.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Contains("Too many console windows", page);
        Assert.Contains("Grace:Http:MaxCircuitsPerUser", page);
        Assert.Contains("href=\"/approvals?state=waiting\"", page);
        Assert.DoesNotMatch("<script src=\"[^\"]*blazor\\.web", page); // No circuit is tried, so no reconnect screen.

        tabs.ForEach(t => t!.Dispose());
        var served = await client.GetAsync("/approvals");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Matches("<script src=\"[^\"]*blazor\\.web", await served.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_first_admin_signs_in_with_the_configured_password_and_a_wrong_one_is_refused_and_audited()
    {
        var cookie = await _host.SignInAsync("admin", TestCatalog.AdminPassword);
        using var client = _host.ClientWithCookie(cookie);
        var csv = await client.GetAsync("/api/outcomes.csv?days=7");
        Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
        Assert.StartsWith("at,mission,pattern,playbook", await csv.Content.ReadAsStringAsync());

        using var anonymous = _host.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => _host.SignInAsync("admin", "wrong-password-123"));
        Assert.Contains("/account/login?error=invalid", refused.Message);
        await using var db = _host.CreateDb();
        var audit = await db.AuditEntries.ToListAsync();
        Assert.Contains(audit, a => a.Actor == "admin" && a.Action == "account.sign-in");
        Assert.Contains(audit, a => a.Actor == "admin" && a.Action == "account.sign-in-failed");
    }

    [Fact]
    public async Task A_viewer_session_cannot_send_signals_and_a_form_cannot_approve()
    {
        await _host.CreateUserAsync("victor", "Viewer-Password-1", GraceRoles.Viewer);
        using var viewer = _host.ClientWithCookie(await _host.SignInAsync("victor", "Viewer-Password-1"));
        var signal = System.Net.Http.Json.JsonContent.Create(new { source = "x", message = TestCatalog.WalMessage });
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync("/api/signals", signal)).StatusCode);

        await _host.CreateUserAsync("olivia", "Operator-Password-1", GraceRoles.Operator);
        using var operatorClient = _host.ClientWithCookie(await _host.SignInAsync("olivia", "Operator-Password-1"));
        var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["reason"] = "csrf" });
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await operatorClient.PostAsync($"/api/missions/{Guid.NewGuid()}/approve", form)).StatusCode);
        var textSignal = new StringContent("{\"source\":\"x\",\"message\":\"y\"}", System.Text.Encoding.UTF8, "text/plain");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await operatorClient.PostAsync("/api/signals", textSignal)).StatusCode);
    }

    [Fact]
    public async Task The_audit_log_page_is_for_leads_and_admins()
    {
        await _host.CreateUserAsync("olivia", "Operator-Password-1", GraceRoles.Operator);
        using var operatorClient = _host.ClientWithCookie(await _host.SignInAsync("olivia", "Operator-Password-1"));
        var denied = await operatorClient.GetAsync("/audit");
        Assert.Equal(HttpStatusCode.Redirect, denied.StatusCode);
        Assert.Contains("/account/denied", denied.Headers.Location!.ToString());

        using var adminClient = _host.ClientWithCookie(await _host.SignInAsync("admin", TestCatalog.AdminPassword));
        Assert.Equal(HttpStatusCode.OK, (await adminClient.GetAsync("/audit")).StatusCode);
    }

    [Fact]
    public async Task Only_leads_and_admins_change_tiers_and_the_change_applies_to_new_missions()
    {
        var tiers = _host.Get<PlaybookTiers>();
        var forbidden = await Assert.ThrowsAsync<MissionOperationException>(() =>
            tiers.SetAsync("test-checkpoint", 2, new Actor("olivia", [GraceRoles.Operator]), "safer", default));
        Assert.True(forbidden.Forbidden);
        await Assert.ThrowsAsync<MissionOperationException>(() => tiers.SetAsync("test-checkpoint", 2, new Actor("lena", [GraceRoles.Lead]), " ", default));

        await tiers.SetAsync("test-checkpoint", 2, new Actor("lena", [GraceRoles.Lead]), "checkpoints slowed orders last week", default);
        Assert.Equal(2, (await tiers.OverridesAsync(default))["test-checkpoint"]);

        var appDb = _folder.Combine("app.db");
        using var holder = TestCatalog.GrowWal(appDb);
        using var client = _host.IngestClient();
        (await client.PostAsync("/api/signals", System.Net.Http.Json.JsonContent.Create(new { source = "orders", message = TestCatalog.WalMessage }))).EnsureSuccessStatusCode();
        var mission = await _host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.State == MissionState.AwaitingApproval, "awaiting approval");
        Assert.Equal(2, mission.Tier);

        await using var db = _host.CreateDb();
        Assert.Contains(await db.AuditEntries.ToListAsync(), a => a.Action == "playbook.tier" && a.Actor == "lena" && a.Detail!.Contains("0 → 2", StringComparison.Ordinal));
    }
}
