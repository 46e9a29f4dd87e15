using Bunit;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Engine.Notifications;
using Grace.Web.Components.Shared;

namespace Grace.Tests.Components;

/// <summary>
/// The lists render per request; their one interactive root (LiveRefresh) holds no rows and asks the browser to fetch
/// the page again when an event of its topic arrives (grace.refreshLive), and keeps the shell's figures live.
/// </summary>
public sealed class LiveRefreshTests : GraceComponentTest
{
    private int Refreshes() => JSInterop.Invocations.Count(i => i.Identifier == "grace.refreshLive");

    private IRenderedComponent<LiveRefresh> Island(LiveTopic topic)
    {
        var cut = Render<LiveRefresh>(p => p.Add(c => c.Topic, topic));
        // Live once rendered in the circuit (PageChrome's marker), as browser tests wait for it.
        cut.WaitForAssertion(() => cut.Find("#grace-interactive"));
        return cut;
    }

    private void PublishVerifying(Mission mission) =>
        Notifier.Publish(new MissionUpdated(DateTimeOffset.UtcNow, mission.Id, mission.IncidentId, mission.PlaybookKey, mission.Target, mission.Tier,
            mission.State, PipelineStage.Verify, "engine", "verifying"));

    [Fact]
    public async Task A_mission_event_asks_the_browser_for_the_missions_list_again()
    {
        var cut = Island(LiveTopic.Missions);
        var mission = await SeedMissionAsync();
        PublishVerifying(mission);
        cut.WaitForAssertion(() => Assert.Equal(1, Refreshes()), TimeSpan.FromSeconds(5));
        // The shell's figures are written by the same circuit (PageChrome), as on every other page.
        Assert.Contains(JSInterop.Invocations, i => i.Identifier == "grace.shell");
    }

    [Fact]
    public async Task An_incident_event_refreshes_the_incidents_list_and_not_the_missions_list()
    {
        var incidents = Island(LiveTopic.Incidents);
        var missions = Island(LiveTopic.Missions);
        var mission = await SeedMissionAsync();
        Notifier.Publish(new IncidentUpdated(DateTimeOffset.UtcNow, mission.IncidentId, "f", "orders-api", IncidentStatus.Open, 12, true));
        incidents.WaitForAssertion(() => Assert.Equal(1, Refreshes()), TimeSpan.FromSeconds(5));
        Thread.Sleep(500);
        Assert.Equal(1, Refreshes());
        Assert.NotNull(missions.Instance);
    }

    [Fact]
    public void Statistics_moving_refresh_the_learning_page()
    {
        var cut = Island(LiveTopic.Statistics);
        Notifier.Publish(new MissionUpdated(DateTimeOffset.UtcNow, Guid.NewGuid(), Guid.NewGuid(), "p", "t", 0, MissionState.Succeeded, PipelineStage.Learn, "engine", "done"));
        Thread.Sleep(500);
        Assert.Equal(0, Refreshes());
        Notifier.Publish(new StatisticsUpdated(DateTimeOffset.UtcNow, "test-cache", "test-clear-cache", 4, 0.75, 0.3));
        cut.WaitForAssertion(() => Assert.Equal(1, Refreshes()), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task The_audit_log_follows_no_event()
    {
        var cut = Island(LiveTopic.None);
        var mission = await SeedMissionAsync();
        PublishVerifying(mission);
        Thread.Sleep(500);
        Assert.Equal(0, Refreshes());
        Assert.NotNull(cut.Find("#grace-interactive"));
    }

    [Fact]
    public async Task While_the_page_is_rendered_on_the_server_it_asks_the_browser_nothing()
    {
        // Before the circuit's first render (the request's render), there is no browser to ask: the page came with its table.
        var cut = Render<LiveRefresh>(p => p.Add(c => c.Topic, LiveTopic.Missions));
        Assert.Equal(0, Refreshes());
        await Task.CompletedTask;
        Assert.NotNull(cut.Instance);
    }
}
