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

/// <summary>Issue 13: scopes and limits are chosen and shown on the page, and a key's last use is shown.</summary>
public sealed class ApiKeyScopesPageTests : GraceComponentTest
{
    // MudCheckBox puts the id on its input or on its wrapper, depending on the version.
    private static AngleSharp.Dom.IElement CheckBox(IRenderedComponent<ApiKeys> cut, string selector) =>
        cut.Find(selector) is { TagName: "INPUT" } input ? input : cut.Find($"{selector} input");

    [Fact]
    public async Task An_admin_chooses_scopes_and_limits_sees_them_and_edits_them()
    {
        SignIn("ada", GraceRoles.Admin);
        var cut = Render<ApiKeys>();
        OverviewTests.InputOf(cut, "#key-name").Input("grafana");
        // Only alerts: untick signals:write and webhooks:write.
        CheckBox(cut, "#scope-signals-write").Change(false);
        CheckBox(cut, "#scope-webhooks-write").Change(false);
        OverviewTests.InputOf(cut, "#key-sources").Input("orders, payments");
        cut.Find("#create-key").Click();
        cut.WaitForAssertion(() =>
        {
            Assert.StartsWith("grace_", cut.Find("#created-key code").TextContent);
            var row = cut.Find("tr.key-row");
            Assert.Equal("alerts:write", row.QuerySelector(".key-scopes")!.TextContent.Trim());
            Assert.Contains("sources orders, payments", row.QuerySelector(".key-limits")!.TextContent, StringComparison.Ordinal);
            Assert.Equal("never", row.QuerySelector(".key-last-used")!.TextContent.Trim());
        });

        var keys = Services.GetRequiredService<ApiKeyService>();
        var key = cut.Find("#created-key code").TextContent;
        var grant = await keys.CheckAsync(key, default);
        Assert.Equal(Grace.Data.Entities.ApiKeyScopes.Alerts, grant.Limits.Scopes);
        Assert.Equal(["orders", "payments"], grant.Limits.Sources);

        // Edit: add signals:write, limit to a target instead of sources; the row shows it, and its use.
        cut.Find(".edit-key").Click();
        cut.WaitForAssertion(() => Assert.Contains("Limits of grafana", cut.Find("#editing-key").TextContent, StringComparison.Ordinal));
        CheckBox(cut, "#scope-signals-write").Change(true);
        OverviewTests.InputOf(cut, "#key-sources").Input("");
        OverviewTests.InputOf(cut, "#key-targets").Input("no-such-target");
        cut.Find("#save-limits").Click();
        var snackbar = Services.GetRequiredService<MudBlazor.ISnackbar>();
        cut.WaitForAssertion(() => Assert.Contains(snackbar.ShownSnackbars, s => s.Message!.Contains("'no-such-target' is not a key under Grace:Targets", StringComparison.Ordinal)));
        OverviewTests.InputOf(cut, "#key-targets").Input("grace");
        cut.Find("#save-limits").Click();
        cut.WaitForAssertion(() =>
        {
            var row = cut.Find("tr.key-row");
            Assert.Equal("signals:writealerts:write", row.QuerySelector(".key-scopes")!.TextContent.Replace(" ", "", StringComparison.Ordinal).Trim());
            Assert.Contains("targets grace", row.QuerySelector(".key-limits")!.TextContent, StringComparison.Ordinal);
            Assert.DoesNotContain("never", row.QuerySelector(".key-last-used")!.TextContent, StringComparison.Ordinal);
        });
        Assert.Equal(["grace"], (await keys.CheckAsync(key, default)).Limits.Targets);
    }
}
