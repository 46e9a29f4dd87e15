using Bunit;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Web.Components.Pages.Incidents;
using Grace.Web.Components.Pages.Overview;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Components;

/// <summary>The incident page: its own timeline, its missions (linked), what operators do, and what viewers only read.</summary>
public sealed class IncidentPageTests : GraceComponentTest
{
    private async Task<Mission> IncidentNeedingAHumanAsync()
    {
        var mission = await SeedMissionAsync(state: MissionState.Blocked);
        await using var db = Factory.CreateDbContext();
        var incident = await db.Incidents.SingleAsync(i => i.Id == mission.IncidentId);
        incident.Status = IncidentStatus.Open;
        incident.NeedsHuman = true;
        incident.NeedsHumanAt = DateTimeOffset.UtcNow;
        incident.NeedsHumanReason = "Grace tried 1 playbook(s) and 0 retries, and none healed it.";
        db.IncidentEvents.Add(new IncidentEvent { IncidentId = incident.Id, At = DateTimeOffset.UtcNow, Kind = IncidentEventKind.MissionEnded, Actor = "engine", Message = "Mission ended Blocked.", MissionId = mission.Id });
        db.IncidentEvents.Add(new IncidentEvent { IncidentId = incident.Id, At = DateTimeOffset.UtcNow, Kind = IncidentEventKind.NeedsHuman, Actor = "engine", Message = "Needs a human: none healed it." });
        await db.SaveChangesAsync();
        return mission;
    }

    [Fact]
    public async Task The_page_shows_the_timeline_and_links_to_its_missions_and_an_operator_acknowledges_comments_and_resolves()
    {
        var mission = await IncidentNeedingAHumanAsync();
        var cut = Render<IncidentDetailPage>(p => p.Add(x => x.Id, mission.IncidentId));
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".incident-event").Count));
        Assert.Contains("none healed it", cut.Find("#incident-needs-human").TextContent);
        Assert.Contains("needs a human", cut.Find(".incident-status").TextContent);
        Assert.Equal($"/missions/{mission.Id}", cut.Find(".incident-mission-link").GetAttribute("href"));

        cut.Find("#incident-acknowledge").Click();
        cut.WaitForAssertion(() => Assert.Contains("acknowledged by olivia", cut.Find("#incident-acknowledged").TextContent));
        OverviewTests.InputOf(cut, "#comment-text").Input("restarting the NFS client");
        cut.Find("#comment").Click();
        cut.WaitForAssertion(() => Assert.Contains(cut.FindAll(".incident-event-message"), e => e.TextContent.Contains("olivia: restarting the NFS client")));
        OverviewTests.InputOf(cut, "#resolve-reason").Input("fixed by hand");
        cut.Find("#resolve").Click();
        cut.WaitForAssertion(() => Assert.Equal("Resolved", cut.Find(".incident-status").TextContent.Trim()));

        await using var db = Factory.CreateDbContext();
        var incident = await db.Incidents.SingleAsync(i => i.Id == mission.IncidentId);
        Assert.Equal("olivia", incident.AcknowledgedBy);
        Assert.False(incident.NeedsHuman);
        Assert.Equal(["incident.acknowledge", "incident.comment", "incident.resolve"], await db.AuditEntries.OrderBy(a => a.Id).Select(a => a.Action).ToListAsync());
    }

    [Fact]
    public async Task A_viewer_reads_the_incident_without_actions_and_the_service_refuses_them()
    {
        SignIn("vera", GraceRoles.Viewer);
        var mission = await IncidentNeedingAHumanAsync();
        var cut = Render<IncidentDetailPage>(p => p.Add(x => x.Id, mission.IncidentId));
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("#incident-read-only")));
        Assert.Empty(cut.FindAll("#incident-actions"));
        Assert.Empty(cut.FindAll("#incident-acknowledge"));

        var refused = await Assert.ThrowsAsync<MissionOperationException>(() =>
            Services.GetRequiredService<Grace.Engine.Escalate.IncidentService>().AcknowledgeAsync(mission.IncidentId, new Actor("vera", [GraceRoles.Viewer]), default));
        Assert.True(refused.Forbidden);
        await using var db = Factory.CreateDbContext();
        Assert.Null((await db.Incidents.SingleAsync(i => i.Id == mission.IncidentId)).AcknowledgedBy);
    }

    [Fact]
    public async Task The_overview_counts_incidents_that_need_a_human_and_blocked_missions_as_trouble()
    {
        await IncidentNeedingAHumanAsync();
        await SeedMissionAsync(state: MissionState.Expired);
        var cut = Render<Overview>();
        cut.WaitForAssertion(() => Assert.Equal("1", cut.Find("#count-needs-human").TextContent));
        Assert.Equal("2", cut.Find("#count-trouble").TextContent);
        Assert.Contains("1 blocked", cut.Find("#trouble-by-state").TextContent);
        Assert.Contains("1 expired", cut.Find("#trouble-by-state").TextContent);
        Assert.Single(cut.FindAll(".needs-human-row"));
    }
}
