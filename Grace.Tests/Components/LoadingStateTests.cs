using Bunit;
using Grace.Web.Components.Pages.Incidents;
using Grace.Web.Components.Pages.Learning;
using Grace.Web.Components.Pages.Missions;
using Grace.Web.Components.Pages.Playbooks;
using Grace.Web.Components.Pages.Verification;

namespace Grace.Tests.Components;

/// <summary>While the database answers slowly, every page says it is loading, then shows its content.</summary>
public sealed class LoadingStateTests : GraceComponentTest
{
    [Fact]
    public void Learning_shows_loading_then_content()
    {
        Factory.Hold = new TaskCompletionSource();
        var cut = Render<Learning>();
        cut.Find("#learning-loading");
        Factory.Hold.SetResult();
        cut.WaitForAssertion(() => cut.Find("#learning-empty"));
    }

    [Fact]
    public void Verification_shows_loading_then_content()
    {
        Factory.Hold = new TaskCompletionSource();
        var cut = Render<Verification>();
        cut.Find("#verification-loading");
        Factory.Hold.SetResult();
        cut.WaitForAssertion(() => cut.Find("#verification-totals"));
    }

    [Fact]
    public void Playbooks_shows_loading_then_content()
    {
        Factory.Hold = new TaskCompletionSource();
        var cut = Render<Playbooks>();
        cut.Find("#playbooks-loading");
        Factory.Hold.SetResult();
        cut.WaitForAssertion(() => cut.Find(".playbook-card"));
    }

    // The lists render per request: the server answers once the page is read, so the browser never sees them loading
    // (an enhanced navigation keeps the previous page until then). What they show once the database answers:
    [Fact]
    public void Incidents_show_their_content_once_the_database_answers()
    {
        Factory.Hold = new TaskCompletionSource();
        var cut = Render<Incidents>();
        Assert.Empty(cut.FindAll("#incidents-empty"));
        Factory.Hold.SetResult();
        cut.WaitForAssertion(() => cut.Find("#incidents-empty"));
    }

    [Fact]
    public void A_mission_shows_loading_then_content()
    {
        Factory.Hold = new TaskCompletionSource();
        var cut = Render<MissionDetail>(p => p.Add(c => c.Id, Guid.NewGuid()));
        cut.Find("#mission-loading");
        Factory.Hold.SetResult();
        cut.WaitForAssertion(() => cut.Find("#mission-missing"));
    }

    [Fact]
    public void The_missions_list_shows_its_content_once_the_database_answers()
    {
        Factory.Hold = new TaskCompletionSource();
        var cut = Render<MissionList>();
        Assert.DoesNotContain("No missions yet", cut.Markup);
        Factory.Hold.SetResult();
        cut.WaitForAssertion(() => Assert.Contains("No missions yet", cut.Markup));
    }
}
