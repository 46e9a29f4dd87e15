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
        Services.AddSingleton<AuditLog>();
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
    }

    [Fact]
    public async Task A_lead_cannot_add_people_even_if_the_page_were_shown()
    {
        await SeedRolesAsync();
        SignIn("lena", GraceRoles.Lead);
        var cut = Render<Users>();
        OverviewTests.InputOf(cut, "#new-user-name").Input("mallory");
        cut.Find("#create-user").Click();
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("#created-password")));
        Assert.Empty(await Services.GetRequiredService<UserAdministration>().ListAsync());
    }
}

public sealed class LiveThrottleTests : GraceComponentTest
{
    [Fact]
    public async Task A_burst_of_events_costs_a_few_renders_not_one_each()
    {
        var mission = await SeedMissionAsync();
        var cut = Render<MissionList>();
        cut.WaitForAssertion(() => cut.Find("tr.mission-row"));
        var before = Factory.Created;

        for (var i = 0; i < 1000; i++)
        {
            Notifier.Publish(new MissionUpdated(DateTimeOffset.UtcNow, mission.Id, mission.IncidentId, mission.PlaybookKey, mission.Target, 2,
                MissionState.Verifying, PipelineStage.Verify, "engine", $"probe {i}"));
        }

        await Task.Delay(TimeSpan.FromSeconds(1));
        // Each refresh reloads the page's data once; 1000 events within a few milliseconds make one or two.
        var reloads = Factory.Created - before;
        Assert.InRange(reloads, 1, 5);
        Assert.Contains("mission-row", cut.Markup);
    }
}
