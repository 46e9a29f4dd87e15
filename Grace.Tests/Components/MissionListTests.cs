using Bunit;
using Grace.Engine.Missions;
using Grace.Data.Entities;
using Grace.Engine.Notifications;
using Grace.Web.Components.Pages.Missions;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

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

    // The list renders per request: every filter, order and page is an address, and each address a fresh render.
    private IRenderedComponent<MissionList> Open(string address)
    {
        Services.GetRequiredService<NavigationManager>().NavigateTo(address);
        return Render<MissionList>();
    }

    private static string HrefOf(IRenderedComponent<MissionList> cut, string selector) =>
        cut.Find(selector).GetAttribute("href") ?? throw new InvalidOperationException($"{selector} is not a link");

    [Fact]
    public async Task A_new_mission_shows_when_the_page_is_fetched_again()
    {
        var cut = Render<MissionList>();
        cut.WaitForAssertion(() => Assert.Contains("No missions yet", cut.Markup));

        // The live part (an event makes the island ask the browser for the page again) is LiveRefreshTests'; this is the page it gets.
        await AddMissionAsync("checkpoint", MissionState.Verifying);
        var again = Open("/missions");
        again.WaitForAssertion(() => Assert.Contains("checkpoint", again.Find("tr.mission-row").TextContent));
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

        var cut = Open("/missions");
        // Newest first, 25 to a page, out of 30.
        cut.WaitForAssertion(() =>
        {
            Assert.Equal(25, Playbooks(cut).Count);
            Assert.Equal("restart-27", Playbooks(cut)[0]);
            Assert.Contains("1-25 of 30", cut.Find(".mud-table-pagination").TextContent);
        });

        // The filters are one GET form: the select and the search box send state= and q=, and show what the address says.
        Assert.Equal("state", cut.Find("form[data-grace-filters] select#state-filter").GetAttribute("name"));
        Assert.Equal("q", cut.Find("form[data-grace-filters] input#mission-search").GetAttribute("name"));
        var state = Open("/missions?state=AwaitingApproval");
        state.WaitForAssertion(() => Assert.Equal(["clear-cache"], Playbooks(state)));
        Assert.Equal("AwaitingApproval", state.Find("#state-filter option[selected]").GetAttribute("value"));
        // An unknown state shows every state, as before.
        var unknown = Open("/missions?state=Sleeping");
        unknown.WaitForAssertion(() => Assert.Equal(25, Playbooks(unknown).Count));

        var search = Open("/missions?q=checkpoint");
        search.WaitForAssertion(() => Assert.Equal(["checkpoint"], Playbooks(search)));
        Assert.Equal("checkpoint", search.Find("#mission-search").GetAttribute("value"));

        // Sorted by playbook, A to Z, by following the column's label; the label of the sorted column flips it.
        var sorted = Open(HrefOf(Open("/missions"), "th a.mud-table-sort-label[href*='sort=playbook']"));
        sorted.WaitForAssertion(() => Assert.Equal(["checkpoint", "clear-cache", "restart-00"], Playbooks(sorted).Take(3)));
        Assert.Equal("ascending", sorted.Find("th[aria-sort=ascending]").GetAttribute("aria-sort"));
        Assert.Contains("Playbook", sorted.Find("th[aria-sort=ascending]").TextContent, StringComparison.Ordinal);
        var flipped = Open(HrefOf(sorted, "th[aria-sort=ascending] a"));
        flipped.WaitForAssertion(() => Assert.Equal("restart-27", Playbooks(flipped)[0]));
        // The filter form carries the order along, so a search keeps it.
        Assert.Equal("playbook", flipped.Find("form[data-grace-filters] input[type=hidden][name=sort]").GetAttribute("value"));
        Assert.Equal("desc", flipped.Find("form[data-grace-filters] input[type=hidden][name=dir]").GetAttribute("value"));
    }

    [Fact]
    public async Task The_pager_reads_the_next_page_in_sql_and_disables_what_leads_nowhere()
    {
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        for (var i = 0; i < 30; i++)
        {
            await AddMissionAsync($"restart-{i:00}", MissionState.Failed, start.AddMinutes(i));
        }

        var cut = Open("/missions?state=Failed");
        cut.WaitForAssertion(() => Assert.Equal(25, Playbooks(cut).Count));
        Assert.True(cut.Find("button[aria-label='Previous page']").HasAttribute("disabled"));
        // The pager's links keep the filters and name the page, counted from 1.
        var next = HrefOf(cut, "a[aria-label='Next page']");
        Assert.Contains("state=Failed", next, StringComparison.Ordinal);
        Assert.Contains("page=2", next, StringComparison.Ordinal);
        var second = Open(next);
        second.WaitForAssertion(() =>
        {
            Assert.Equal(["restart-04", "restart-03", "restart-02", "restart-01", "restart-00"], Playbooks(second));
            Assert.Contains("26-30 of 30", second.Find(".mud-table-pagination").TextContent);
        });
        Assert.True(second.Find("button[aria-label='Last page']").HasAttribute("disabled"));
        var first = Open(HrefOf(second, "a[aria-label='First page']"));
        first.WaitForAssertion(() => Assert.Equal("restart-29", Playbooks(first)[0]));

        // An old link past the last page shows the last page.
        var past = Open("/missions?page=9");
        past.WaitForAssertion(() => Assert.Contains("26-30 of 30", past.Find(".mud-table-pagination").TextContent));
    }

    [Fact]
    public void A_database_failure_shows_an_error_instead_of_crashing()
    {
        Factory.Broken = true;
        var cut = Render<MissionList>();
        cut.WaitForAssertion(() => Assert.Contains("Missions could not be loaded: database unreachable", cut.Markup));
    }
}
