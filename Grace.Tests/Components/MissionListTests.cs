using Bunit;
using Grace.Data.Entities;
using Grace.Engine.Notifications;
using Grace.Web.Components.Pages.Missions;

namespace Grace.Tests.Components;

public sealed class MissionListTests : GraceComponentTest
{
    private async Task<Mission> AddMissionAsync(string playbook, MissionState state)
    {
        await using var db = Factory.CreateDbContext();
        var now = DateTimeOffset.UtcNow;
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
            Assert.Contains("AwaitingApproval", row.TextContent);
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

    [Fact]
    public void A_database_failure_shows_an_error_instead_of_crashing()
    {
        Factory.Broken = true;
        var cut = Render<MissionList>();
        cut.WaitForAssertion(() => Assert.Contains("Missions could not be loaded: database unreachable", cut.Markup));
    }
}
