using Bunit;
using Grace.Engine.Capture;
using Grace.Engine.Missions;
using Grace.Web.Components.Pages.ApiKeys;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Components;

public sealed class ApiKeysPageTests : GraceComponentTest
{
    [Fact]
    public void With_no_keys_it_says_programs_cannot_send_yet()
    {
        SignIn("ada", GraceRoles.Admin);
        var cut = Render<ApiKeys>();
        cut.WaitForAssertion(() => cut.Find("#keys-empty"));
    }

    [Fact]
    public async Task An_admin_creates_a_key_sees_it_once_and_revokes_it()
    {
        SignIn("ada", GraceRoles.Admin);
        var cut = Render<ApiKeys>();
        OverviewTests.InputOf(cut, "#key-name").Input("orders-api");
        cut.Find("#create-key").Click();
        string key = "";
        cut.WaitForAssertion(() =>
        {
            key = cut.Find("#created-key code").TextContent;
            Assert.StartsWith("grace_", key);
            Assert.Contains("active", cut.Find("tr.key-row").TextContent);
        });
        var keys = Services.GetRequiredService<ApiKeyService>();
        Assert.Equal(ApiKeyCheck.Valid, (await keys.CheckAsync(key, default)).Check);

        cut.Find(".revoke-key").Click();
        cut.WaitForAssertion(() => Assert.Contains("revoked", cut.Find("tr.key-row").TextContent));
        Assert.Equal(ApiKeyCheck.Revoked, (await keys.CheckAsync(key, default)).Check);
    }

    [Fact]
    public async Task A_lead_is_refused_by_the_service_even_on_the_page()
    {
        SignIn("lena", GraceRoles.Lead);
        var cut = Render<ApiKeys>();
        OverviewTests.InputOf(cut, "#key-name").Input("sneaky");
        cut.Find("#create-key").Click();

        // The refusal comes from the service and is shown; no key exists.
        var snackbar = Services.GetRequiredService<MudBlazor.ISnackbar>();
        cut.WaitForAssertion(() => Assert.Contains(snackbar.ShownSnackbars, s => s.Message!.Contains("lena may not manage API keys: it needs the Admin role", StringComparison.Ordinal)));
        Assert.Empty(cut.FindAll("#created-key"));
        Assert.Empty(await Services.GetRequiredService<ApiKeyService>().ListAsync(default));
    }
}
