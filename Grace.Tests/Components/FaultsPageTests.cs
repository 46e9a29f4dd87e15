using Bunit;
using Grace.Engine.Faults;
using Grace.Engine.Missions;
using Grace.Web.Components.Pages.Faults;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;

namespace Grace.Tests.Components;

public sealed class FaultsPageTests : GraceComponentTest
{
    [Fact]
    public void When_off_the_page_says_how_to_turn_it_on()
    {
        SignIn("ada", GraceRoles.Admin);
        var cut = Render<Faults>();
        Assert.Contains("Grace:Faults:Enabled", cut.Find("#faults-off").TextContent);
        Assert.Empty(cut.FindAll("#inject"));
    }

    [Fact]
    public async Task When_on_each_fault_lists_its_targets_and_says_why_one_cannot_be_broken_now()
    {
        Services.PostConfigure<FaultOptions>(o => o.Enabled = true);
        SignIn("ada", GraceRoles.Admin);
        var cut = Render<Faults>();

        // The first fault grows a SQLite WAL: every SQLite target is offered, with a size.
        Assert.Contains("-wal file grows", cut.Find("#fault-description").TextContent);
        Assert.Contains("demo-orders-db", cut.Find("#fault-targets").TextContent);
        Assert.NotEmpty(cut.FindAll("#fault-size"));
        Assert.False(cut.Find("#inject").HasAttribute("disabled"));

        var select = cut.FindComponent<MudSelect<FaultKind>>();
        await cut.InvokeAsync(() => select.Instance.ValueChanged.InvokeAsync(LockHoldFault.Kind));
        Assert.Contains("set Grace:Targets:demo-postgres:ConnectionString", cut.Find("#fault-targets").TextContent);
        Assert.Empty(cut.FindAll("#fault-size"));
        Assert.True(cut.Find("#inject").HasAttribute("disabled"));

        // Nothing is supervised in this test: the worker is not running, so it cannot be hung.
        await cut.InvokeAsync(() => select.Instance.ValueChanged.InvokeAsync(ProcessHangFault.Kind));
        Assert.Contains("SIGSTOP", cut.Find("#fault-description").TextContent);
        Assert.Contains("'demo-worker' is not running.", cut.Find("#fault-targets").TextContent);
        Assert.True(cut.Find("#inject").HasAttribute("disabled"));
    }

    [Fact]
    public async Task The_container_faults_say_why_they_are_unavailable_until_an_engine_is_configured()
    {
        Services.PostConfigure<FaultOptions>(o => o.Enabled = true);
        SignIn("ada", GraceRoles.Admin);
        var cut = Render<Faults>();
        var select = cut.FindComponent<MudSelect<FaultKind>>();

        // The shipped demo container has no engine: the page names the setting to give it.
        foreach (var kind in new[] { Grace.Engine.Adapters.Containers.ContainerKillFault.Kind, Grace.Engine.Adapters.Containers.ContainerUnhealthyFault.Kind })
        {
            await cut.InvokeAsync(() => select.Instance.ValueChanged.InvokeAsync(kind));
            Assert.Contains("demo-web", cut.Find("#fault-targets").TextContent);
            Assert.Contains("set Grace:Targets:demo-web:Endpoint", cut.Find("#fault-targets").TextContent);
            Assert.True(cut.Find("#inject").HasAttribute("disabled"));
        }

        Assert.Contains("HEALTHCHECK", cut.Find("#fault-description").TextContent);
    }
}
