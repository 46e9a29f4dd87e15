using Bunit;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Web.Components.Shell;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Components;

/// <summary>
/// The shell's live figures without interactive roots (docs/decisions/0033-shell-figures-without-islands.md): the
/// banner and the count render statically in their slots, and the page's PageChrome writes changes into them.
/// </summary>
public sealed class ShellFiguresTests : GraceComponentTest
{
    [Fact]
    public async Task The_banner_and_the_count_render_in_their_slots_with_the_chip_classes_grace_js_reuses()
    {
        await SeedMissionAsync(state: MissionState.AwaitingApproval);
        await Services.GetRequiredService<KillSwitch>().SetAsync(true, new Actor("ada", [GraceRoles.Admin]), "shell test", default);

        var banner = Render<KillSwitchBanner>();
        var slot = banner.Find("#grace-kill-switch");
        Assert.Contains("mud-chip-color-error", slot.GetAttribute("data-chip"), StringComparison.Ordinal);
        Assert.Equal("Kill switch engaged", banner.Find("#grace-kill-switch > #kill-switch-banner").TextContent);

        var badge = Render<PendingBadge>();
        Assert.Contains("mud-chip-color-warning", badge.Find("#grace-pending").GetAttribute("data-chip"), StringComparison.Ordinal);
        Assert.Equal("1", badge.Find("#grace-pending > #nav-pending").TextContent);
    }

    [Fact]
    public void Nothing_to_show_leaves_the_slots_empty()
    {
        Assert.Empty(Render<KillSwitchBanner>().Find("#grace-kill-switch").Children);
        Assert.Empty(Render<PendingBadge>().Find("#grace-pending").Children);
    }

    [Fact]
    public async Task PageChrome_writes_the_figures_into_the_shell_once_live_and_again_after_a_change()
    {
        Render<PageChrome>(p => p.Add(c => c.Popovers, false));
        WaitForShell(0, 0);

        await Services.GetRequiredService<KillSwitch>().SetAsync(true, new Actor("ada", [GraceRoles.Admin]), "shell test", default);
        WaitForShell(1, 0);
    }

    private void WaitForShell(int killSwitch, int pending)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!JSInterop.Invocations["grace.shell"].Any(i => Equals(i.Arguments[0], killSwitch) && Equals(i.Arguments[1], pending)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"grace.shell({killSwitch}, {pending}) was not called");
            Thread.Sleep(50);
        }
    }
}
