using Bunit;
using Grace.Engine.Missions;
using Grace.Web.Components.Pages.Faults;

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
}
