using System.Net;
using System.Text.RegularExpressions;
using Grace.Data;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Grace.Web.Identity;

namespace Grace.Tests.Integration;

/// <summary>People's accounts on the real host: changing one's password, and what an Admin's changes do to open sessions.</summary>
public sealed partial class AccountTests : IAsyncLifetime
{
    private const string Password = "Account-Test-Password-1";
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;

    private static readonly Actor Admin = new("admin", [GraceRoles.Admin]);

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        // Sessions are checked on every request here, so a test sees at once what production sees within a minute.
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings())
            .Append(new("Grace:Identity:RevalidateSeconds", "0"))).Start();
        await _host.CreateUserAsync("olivia", Password, GraceRoles.Operator);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();

    /// <summary>Posts the password form as the browser would: the page's antiforgery token, the session's cookies.</summary>
    private async Task<HttpResponseMessage> PostPasswordAsync(string cookie, string current, string next, string confirm)
    {
        using var client = _host.ClientWithCookie(cookie);
        var page = await client.GetAsync("/account/password");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var token = TokenField().Match(await page.Content.ReadAsStringAsync()).Groups[1].Value;
        var cookies = page.Headers.TryGetValues("Set-Cookie", out var set) ? set.Select(c => c.Split(';')[0]).Prepend(cookie) : [cookie];
        using var post = new HttpRequestMessage(HttpMethod.Post, "/account/password")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["currentPassword"] = current, ["newPassword"] = next, ["confirmPassword"] = confirm, ["__RequestVerificationToken"] = token,
            }),
        };
        using var plain = _host.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        post.Headers.Add("Cookie", string.Join("; ", cookies));
        return await plain.SendAsync(post);
    }

    private async Task<HttpStatusCode> StatsAsync(string cookie)
    {
        using var client = _host.ClientWithCookie(cookie);
        return (await client.GetAsync("/api/capture/stats")).StatusCode;
    }

    [Fact]
    public async Task A_person_changes_their_password_and_the_old_one_and_their_other_session_stop_working()
    {
        var laptop = await _host.SignInAsync("olivia", Password);
        var phone = await _host.SignInAsync("olivia", Password);

        Assert.Equal("/account/password?error=wrong", (await PostPasswordAsync(laptop, "not-my-password-1A!", "Brand-New-Password-2", "Brand-New-Password-2")).Headers.Location?.OriginalString);
        Assert.Equal("/account/password?error=mismatch", (await PostPasswordAsync(laptop, Password, "Brand-New-Password-2", "Brand-New-Password-3")).Headers.Location?.OriginalString);
        Assert.Equal("/account/password?error=weak", (await PostPasswordAsync(laptop, Password, "short", "short")).Headers.Location?.OriginalString);

        var changed = await PostPasswordAsync(laptop, Password, "Brand-New-Password-2", "Brand-New-Password-2");
        Assert.Equal("/account/password?changed=true", changed.Headers.Location?.OriginalString);

        // The session that changed it carries on with its renewed cookie; the other one has to sign in again.
        var renewed = string.Join("; ", changed.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]));
        Assert.Equal(HttpStatusCode.OK, await StatsAsync(renewed));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatsAsync(phone));
        await Assert.ThrowsAsync<InvalidOperationException>(() => _host.SignInAsync("olivia", Password));
        await _host.SignInAsync("olivia", "Brand-New-Password-2");
        await using var db = _host.CreateDb();
        Assert.Contains(db.AuditEntries.ToList(), a => a.Action == "account.password-change" && a.Actor == "olivia");
    }

    [Fact]
    public async Task A_disabled_person_loses_their_open_session_and_cannot_sign_in_until_enabled()
    {
        var session = await _host.SignInAsync("olivia", Password);
        Assert.Equal(HttpStatusCode.OK, await StatsAsync(session));

        await _host.Get<UserAdministration>().SetDisabledAsync(Admin, "olivia", disabled: true);
        Assert.Equal(HttpStatusCode.Unauthorized, await StatsAsync(session));
        await Assert.ThrowsAsync<InvalidOperationException>(() => _host.SignInAsync("olivia", Password));
        Assert.True((await _host.Get<UserAdministration>().ListAsync()).Single(u => u.UserName == "olivia").Disabled);

        await _host.Get<UserAdministration>().SetDisabledAsync(Admin, "olivia", disabled: false);
        await _host.SignInAsync("olivia", Password);
    }

    [Fact]
    public async Task A_new_role_ends_the_old_session_and_the_next_one_has_the_new_role()
    {
        var session = await _host.SignInAsync("olivia", Password);
        await _host.Get<UserAdministration>().ChangeRoleAsync(Admin, "olivia", GraceRoles.Viewer);
        Assert.Equal(HttpStatusCode.Unauthorized, await StatsAsync(session));

        using var viewer = _host.ClientWithCookie(await _host.SignInAsync("olivia", Password));
        var approve = await viewer.PostAsync($"/api/missions/{Guid.NewGuid()}/approve", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Forbidden, approve.StatusCode);
    }

    [Fact]
    public async Task An_admin_resets_a_forgotten_password_and_grace_always_keeps_an_active_admin()
    {
        var users = _host.Get<UserAdministration>();
        var password = await users.ResetPasswordAsync(Admin, "olivia");
        await _host.SignInAsync("olivia", password);

        // The only Admin can neither disable nor demote themselves, and nobody else can leave Grace without one.
        Assert.Contains("ask another Admin", (await Assert.ThrowsAsync<MissionOperationException>(() => users.SetDisabledAsync(Admin, "admin", true))).Message);
        Assert.Contains("ask another Admin", (await Assert.ThrowsAsync<MissionOperationException>(() => users.ChangeRoleAsync(Admin, "admin", GraceRoles.Lead))).Message);
        await users.ChangeRoleAsync(Admin, "olivia", GraceRoles.Admin);
        var olivia = new Actor("olivia", [GraceRoles.Admin]);
        await users.SetDisabledAsync(olivia, "admin", true);
        // The disabled admin's session still says Admin for up to a revalidation interval: the database decides.
        Assert.True((await Assert.ThrowsAsync<MissionOperationException>(() => users.ChangeRoleAsync(Admin, "olivia", GraceRoles.Operator))).Forbidden);
        Assert.True((await Assert.ThrowsAsync<MissionOperationException>(() => users.CreateAsync(Admin, "mallory", GraceRoles.Admin))).Forbidden);

        var lead = new Actor("lena", [GraceRoles.Lead]);
        Assert.True((await Assert.ThrowsAsync<MissionOperationException>(() => users.ResetPasswordAsync(lead, "olivia"))).Forbidden);
        Assert.Contains("Password page", (await Assert.ThrowsAsync<MissionOperationException>(() => users.ResetPasswordAsync(olivia, "olivia"))).Message);
        Assert.Contains("no user 'ghost'", (await Assert.ThrowsAsync<MissionOperationException>(() => users.ChangeRoleAsync(olivia, "ghost", GraceRoles.Viewer))).Message);
    }

    [Fact]
    public async Task Guessing_the_current_password_locks_the_account_and_a_post_without_the_form_token_changes_nothing()
    {
        var session = await _host.SignInAsync("olivia", Password);

        // The form's antiforgery token is required: a cross-site post with the cookie alone is refused and changes nothing.
        using (var client = _host.ClientWithCookie(session))
        {
            var forged = await client.PostAsync("/account/password", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["currentPassword"] = Password, ["newPassword"] = "Forged-Password-99", ["confirmPassword"] = "Forged-Password-99",
            }));
            Assert.NotEqual(HttpStatusCode.Redirect, forged.StatusCode);
            Assert.False(forged.IsSuccessStatusCode);
        }

        await _host.SignInAsync("olivia", Password);
        string? last = null;
        for (var i = 0; i < 5; i++)
        {
            last = (await PostPasswordAsync(session, $"Guess-Number-{i}-Wrong!", "Brand-New-Password-2", "Brand-New-Password-2")).Headers.Location?.OriginalString;
        }

        Assert.Equal("/account/password?error=locked", last);
        await Assert.ThrowsAsync<InvalidOperationException>(() => _host.SignInAsync("olivia", Password));
    }
}
