using Bunit;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Engine.Notifications;
using Grace.Web.Components.Pages.Account;
using Grace.Web.Components.Pages.Missions;
using Grace.Web.Components.Pages.Users;
using Grace.Web.Identity;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Components;

public sealed class PasswordPageTests : GraceComponentTest
{
    [Theory]
    [InlineData("wrong", "The current password is wrong.")]
    [InlineData("mismatch", "The two new passwords differ.")]
    [InlineData("weak", "too weak")]
    public void The_form_posts_the_change_and_explains_a_refusal(string error, string message)
    {
        Services.GetRequiredService<NavigationManager>().NavigateTo($"/account/password?error={error}");
        var cut = Render<Password>();
        Assert.Equal("/account/password", cut.Find("form").GetAttribute("action"));
        Assert.Equal(3, cut.FindAll("input[type=password]").Count);
        Assert.Equal("olivia", cut.Find("#password-user").TextContent);
        Assert.Contains(message, cut.Find("#password-error").TextContent);
        Assert.Empty(cut.FindAll("#password-changed"));
    }
}

public sealed class LoginPageTests : GraceComponentTest
{
    [Theory]
    [InlineData(null, null)]
    [InlineData("invalid", "The user name or password is wrong.")]
    [InlineData("locked", "locked for 15 minutes")]
    [InlineData("missing", "Enter a user name and a password.")]
    public void The_form_posts_to_sign_in_and_explains_a_failure(string? error, string? message)
    {
        var nav = Services.GetRequiredService<NavigationManager>();
        nav.NavigateTo(error is null ? "/account/login?returnUrl=%2Fapprovals" : $"/account/login?error={error}&returnUrl=%2Fapprovals");
        var cut = Render<Login>();
        var form = cut.Find("form");
        Assert.Equal("/account/login", form.GetAttribute("action"));
        Assert.Equal("/approvals", cut.Find("input[name=returnUrl]").GetAttribute("value"));
        Assert.Equal("password", cut.Find("#password").GetAttribute("type"));
        if (message is null)
        {
            Assert.Empty(cut.FindAll("#login-error"));
        }
        else
        {
            Assert.Contains(message, cut.Find("#login-error").TextContent);
        }
    }
}

public sealed class UsersPageTests : GraceComponentTest
{
    public UsersPageTests()
    {
        Services.AddScoped<GraceDbContext>(_ => Factory.CreateDbContext());
        Services.AddDataProtection();
        Services.AddIdentityCore<GraceUser>().AddRoles<IdentityRole>().AddEntityFrameworkStores<GraceDbContext>().AddDefaultTokenProviders();
        Services.AddSingleton<Grace.Engine.Audit.AuditTrail>();
        Services.AddSingleton<UserAdministration>();
    }

    private async Task SeedRolesAsync()
    {
        await using var scope = Services.CreateAsyncScope();
        var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole>>();
        foreach (var role in GraceRoles.All)
        {
            await roles.CreateAsync(new IdentityRole(role));
        }
    }

    private async Task AddUserAsync(string name, string role)
    {
        await using var scope = Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<GraceUser>>();
        var user = new GraceUser { UserName = name };
        Assert.True((await users.CreateAsync(user, "Components-Password-1")).Succeeded);
        await users.AddToRoleAsync(user, role);
    }

    [Fact]
    public async Task An_admin_disables_and_resets_others_but_is_sent_to_the_password_page_for_themselves()
    {
        await SeedRolesAsync();
        await AddUserAsync("ada", GraceRoles.Admin);
        await AddUserAsync("oscar", GraceRoles.Operator);
        SignIn("ada", GraceRoles.Admin);
        var cut = Render<Users>();
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("tr.user-oscar")));

        var me = cut.Find("tr.user-ada");
        Assert.Contains("Change your password", me.TextContent);
        Assert.Empty(cut.FindAll("tr.user-ada .toggle-user"));
        Assert.Empty(cut.FindAll("tr.user-ada .user-role"));

        cut.Find("tr.user-oscar .reset-user").Click();
        cut.WaitForAssertion(() => Assert.Contains("oscar's new password is", cut.Find("#reset-password").TextContent));
        cut.Find("tr.user-oscar .toggle-user").Click();
        cut.WaitForAssertion(() => Assert.Equal("Disabled", cut.Find("tr.user-oscar .user-status").TextContent.Trim()));
        cut.Find("tr.user-oscar .toggle-user").Click();
        cut.WaitForAssertion(() => Assert.Equal("Active", cut.Find("tr.user-oscar .user-status").TextContent.Trim()));
    }

    [Fact]
    public async Task An_admin_adds_an_operator_and_sees_the_password_once()
    {
        await SeedRolesAsync();
        await AddUserAsync("ada", GraceRoles.Admin);
        SignIn("ada", GraceRoles.Admin);
        var cut = Render<Users>();
        OverviewTests.InputOf(cut, "#new-user-name").Input("oscar");
        cut.Find("#create-user").Click();
        cut.WaitForAssertion(() =>
        {
            Assert.Contains("oscar can sign in with the password", cut.Find("#created-password").TextContent);
            Assert.Contains("Operator", cut.Markup);
        });
        await using var db = Factory.CreateDbContext();
        Assert.Contains(db.AuditEntries.ToList(), a => a.Action == "user.create" && a.Actor == "ada" && a.Subject == "user/oscar");
    }

    [Fact]
    public async Task A_lead_cannot_add_people_even_if_the_page_were_shown()
    {
        await SeedRolesAsync();
        SignIn("lena", GraceRoles.Lead);
        var cut = Render<Users>();
        OverviewTests.InputOf(cut, "#new-user-name").Input("mallory");
        cut.Find("#create-user").Click();

        // The refusal comes from the service and is shown; nobody was added.
        var snackbar = Services.GetRequiredService<MudBlazor.ISnackbar>();
        cut.WaitForAssertion(() => Assert.Contains(snackbar.ShownSnackbars, s => s.Message!.Contains("lena may not", StringComparison.Ordinal) && s.Message.Contains("Admin role", StringComparison.Ordinal)));
        Assert.Empty(cut.FindAll("#created-password"));
        Assert.Empty(await Services.GetRequiredService<UserAdministration>().ListAsync());
    }
}

public sealed class LiveThrottleTests : GraceComponentTest
{
    // The island's refresh timer runs on this clock: nothing refreshes until the test moves it.
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    public LiveThrottleTests() => Services.AddSingleton<TimeProvider>(_time);

    private void Publish(Mission mission, int i) =>
        Notifier.Publish(new MissionUpdated(DateTimeOffset.UtcNow, mission.Id, mission.IncidentId, mission.PlaybookKey, mission.Target, 2,
            MissionState.Verifying, PipelineStage.Verify, "engine", $"probe {i}"));

    // A list renders per request; what a live change costs an open tab is one fetch of the page, which the island asks
    // the browser for (grace.refreshLive). The browser's fetch is the reload this test counts.
    private int Refreshes() => JSInterop.Invocations.Count(i => i.Identifier == "grace.refreshLive");

    [Fact]
    public async Task A_burst_of_events_costs_one_reload_not_one_each()
    {
        var mission = await SeedMissionAsync();
        var cut = Render<Grace.Web.Components.Shared.LiveRefresh>(p => p.Add(c => c.Topic, Grace.Web.Components.Shared.LiveTopic.Missions));
        cut.WaitForAssertion(() => cut.Find("#grace-interactive"));

        // One event and one refresh interval: one reload.
        Publish(mission, 0);
        _time.Advance(TimeSpan.FromMilliseconds(250));
        cut.WaitForAssertion(() => Assert.Equal(1, Refreshes()));

        for (var i = 1; i <= 1000; i++)
        {
            Publish(mission, i);
        }

        Assert.Equal(1, Refreshes()); // nothing reloads before the interval is up
        _time.Advance(TimeSpan.FromMilliseconds(250));
        cut.WaitForAssertion(() => Assert.Equal(2, Refreshes()));
        _time.Advance(TimeSpan.FromSeconds(5));
        Thread.Sleep(200);
        Assert.Equal(2, Refreshes());
    }
}
