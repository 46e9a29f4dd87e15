using Bunit;
using Grace.Engine.Missions;
using Grace.Data.Entities;
using Grace.Engine.Notifications;
using Grace.Web.Components.Pages.Missions;

namespace Grace.Tests.Components;

public sealed class MissionListTests : GraceComponentTest
{
    private async Task<Mission> AddMissionAsync(string playbook, MissionState state, DateTimeOffset? at = null)
    {
        await using var db = Factory.CreateDbContext();
        var now = at ?? DateTimeOffset.UtcNow;
        var incident = new Incident
        {
            Id = Guid.NewGuid(), Fingerprint = Guid.NewGuid().ToString("N"), Source = "orders-api", Template = "t", SampleMessage = "m",
            Severity = Severity.Error, FirstSeenAt = now, LastSeenAt = now, Count = 1,
        };
        var mission = new Mission
        {
            Id = Guid.NewGuid(), IncidentId = incident.Id, PatternKey = "p", PlaybookKey = playbook, Action = "cache.clear", Target = "cache",
            Parameters = "{}", Tier = 2, State = state, RequestedBy = "engine", CreatedAt = now, UpdatedAt = now,
        };
        db.Incidents.Add(incident);
        db.Missions.Add(mission);
        await db.SaveChangesAsync();
        return mission;
    }

    [Fact]
    public void With_no_missions_it_says_how_one_starts()
    {
        var cut = Render<MissionList>();
        cut.WaitForAssertion(() => Assert.Contains("No missions yet", cut.Markup));
    }

    [Fact]
    public async Task It_lists_missions_with_their_state()
    {
        await AddMissionAsync("clear-cache", MissionState.AwaitingApproval);
        var cut = Render<MissionList>();
        cut.WaitForAssertion(() =>
        {
            var row = cut.Find("tr.mission-row");
            Assert.Contains("clear-cache", row.TextContent);
            Assert.Contains("Awaiting approval", row.TextContent);
            Assert.Contains("orders-api", row.TextContent);
        });
    }

    [Fact]
    public async Task A_new_mission_appears_live_when_the_engine_publishes_it()
    {
        var cut = Render<MissionList>();
        cut.WaitForAssertion(() => Assert.Contains("No missions yet", cut.Markup));

        var mission = await AddMissionAsync("checkpoint", MissionState.Verifying);
        Notifier.Publish(new MissionUpdated(DateTimeOffset.UtcNow, mission.Id, mission.IncidentId, mission.PlaybookKey, mission.Target, mission.Tier,
            mission.State, PipelineStage.Verify, "engine", "verifying"));

        cut.WaitForAssertion(() => Assert.Contains("checkpoint", cut.Find("tr.mission-row").TextContent), TimeSpan.FromSeconds(5));
    }

    private static List<string> Playbooks(IRenderedComponent<MissionList> cut) =>
        cut.FindAll("tr.mission-row td[data-label=Playbook]").Select(td => td.TextContent.Trim()).ToList();

    [Fact]
    public async Task The_list_filters_by_state_searches_sorts_and_pages()
    {
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        await AddMissionAsync("clear-cache", MissionState.AwaitingApproval, start);
        await AddMissionAsync("checkpoint", MissionState.Succeeded, start.AddMinutes(1));
        for (var i = 0; i < 28; i++)
        {
            await AddMissionAsync($"restart-{i:00}", MissionState.Failed, start.AddMinutes(2 + i));
        }

        var cut = Render<MissionList>();
        // Newest first, 25 to a page, out of 30.
        cut.WaitForAssertion(() =>
        {
            Assert.Equal(25, Playbooks(cut).Count);
            Assert.Equal("restart-27", Playbooks(cut)[0]);
            Assert.Contains("1-25 of 30", cut.Find(".mud-table-pagination").TextContent);
        });

        var state = cut.FindComponent<Grace.Web.Components.Shared.EnumSelect<MissionState>>();
        await cut.InvokeAsync(() => state.Instance.ValueChanged.InvokeAsync(MissionState.AwaitingApproval));
        cut.WaitForAssertion(() => Assert.Equal(["clear-cache"], Playbooks(cut)));
        await cut.InvokeAsync(() => state.Instance.ValueChanged.InvokeAsync(null));

        var search = cut.FindComponent<Grace.Web.Components.Shared.SearchBox>();
        await cut.InvokeAsync(() => search.Instance.ValueChanged.InvokeAsync("checkpoint"));
        cut.WaitForAssertion(() => Assert.Equal(["checkpoint"], Playbooks(cut)));
        await cut.InvokeAsync(() => search.Instance.ValueChanged.InvokeAsync(""));

        // Sorted by playbook, A to Z.
        cut.WaitForAssertion(() => Assert.Equal(25, Playbooks(cut).Count));
        cut.FindAll(".mud-table-sort-label").Single(l => l.TextContent.Contains("Playbook", StringComparison.Ordinal)).Click();
        cut.WaitForAssertion(() => Assert.Equal(["checkpoint", "clear-cache", "restart-00"], Playbooks(cut).Take(3)));
    }

    [Fact]
    public async Task The_pager_reads_the_next_page_in_sql_and_disables_what_leads_nowhere()
    {
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        for (var i = 0; i < 30; i++)
        {
            await AddMissionAsync($"restart-{i:00}", MissionState.Failed, start.AddMinutes(i));
        }

        var cut = Render<MissionList>();
        cut.WaitForAssertion(() => Assert.Equal(25, Playbooks(cut).Count));
        Assert.True(cut.Find("button[aria-label='Previous page']").HasAttribute("disabled"));
        cut.Find("button[aria-label='Next page']").Click();
        cut.WaitForAssertion(() =>
        {
            Assert.Equal(["restart-04", "restart-03", "restart-02", "restart-01", "restart-00"], Playbooks(cut));
            Assert.Contains("26-30 of 30", cut.Find(".mud-table-pagination").TextContent);
        });
        Assert.True(cut.Find("button[aria-label='Last page']").HasAttribute("disabled"));
        cut.Find("button[aria-label='First page']").Click();
        cut.WaitForAssertion(() => Assert.Equal("restart-29", Playbooks(cut)[0]));
    }

    [Fact]
    public void A_database_failure_shows_an_error_instead_of_crashing()
    {
        Factory.Broken = true;
        var cut = Render<MissionList>();
        cut.WaitForAssertion(() => Assert.Contains("Missions could not be loaded: database unreachable", cut.Markup));
    }
}
