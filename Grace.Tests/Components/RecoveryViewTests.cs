using Bunit;
using Grace.Data.Entities;
using Grace.Web.Components.Pages.Learning;
using Grace.Web.Components.Pages.Missions;

namespace Grace.Tests.Components;

/// <summary>Time to recover with its parts, and a runbook's failing step, where people read them: the mission page and the Learning page.</summary>
public sealed class RecoveryViewTests : GraceComponentTest
{
    [Fact]
    public async Task The_mission_page_shows_time_to_recover_its_parts_the_runbook_steps_and_links_to_its_incident()
    {
        var mission = await SeedMissionAsync(state: MissionState.Succeeded);
        await using (var db = Factory.CreateDbContext())
        {
            db.MissionSteps.Add(new MissionStep { Id = Guid.NewGuid(), MissionId = mission.Id, Index = 0, Name = "drain", Action = "http.call", Target = "orders", Parameters = "{}", Probe = "http.status", ProbeTarget = "orders", State = RunbookStepState.Succeeded });
            db.MissionSteps.Add(new MissionStep { Id = Guid.NewGuid(), MissionId = mission.Id, Index = 1, Name = "clear", Action = "cache.clear", Target = "test-cache", Parameters = "{}", Probe = "directory.bytes", ProbeTarget = "test-cache", State = RunbookStepState.Succeeded });
            db.Outcomes.Add(new OutcomeRecord
            {
                Id = Guid.NewGuid(), MissionId = mission.Id, PatternKey = "test-cache", PlaybookKey = "test-clear-cache", Target = "test-cache", FinalState = MissionState.Succeeded,
                Success = true, At = DateTimeOffset.UtcNow, TimeToRecoverSeconds = 194.25, DetectSeconds = 4, DecideSeconds = 0.05, ApproveSeconds = 180, ActSeconds = 0.2, VerifySeconds = 10,
            });
            await db.SaveChangesAsync();
        }

        var cut = Render<MissionDetail>(p => p.Add(x => x.Id, mission.Id));
        cut.WaitForAssertion(() => Assert.Contains("recovered in 3 min 14 s from the incident's first signal", cut.Find("#mission-outcome").TextContent));
        Assert.Equal("4 s", cut.Find(".ttr-detect").TextContent);
        Assert.Equal("50 ms", cut.Find(".ttr-decide").TextContent);
        Assert.Equal("3 min", cut.Find(".ttr-approve").TextContent);
        Assert.Equal("200 ms", cut.Find(".ttr-act").TextContent);
        Assert.Equal("10 s", cut.Find(".ttr-verify").TextContent);
        Assert.Equal(2, cut.FindAll(".runbook-step").Count);
        Assert.Equal($"/incidents/{mission.IncidentId}", cut.Find("#mission-incident-link").GetAttribute("href"));
    }

    [Fact]
    public async Task The_learning_page_shows_the_mean_parts_and_the_step_that_fails_most()
    {
        await using (var db = Factory.CreateDbContext())
        {
            db.PlaybookStatistics.Add(new PlaybookStatistics { PatternKey = "p", PlaybookKey = "three-steps", Runs = 3, Successes = 1, Rollbacks = 2, SuccessRate = 1 / 3.0, Confidence = 0.06, MeanTimeToRecoverSeconds = 12 });
            OutcomeRecord Outcome(bool success, string? failed, double? ttr = null) => new()
            {
                Id = Guid.NewGuid(), MissionId = Guid.NewGuid(), PatternKey = "p", PlaybookKey = "three-steps", Target = "t",
                FinalState = success ? MissionState.Succeeded : MissionState.RolledBack, Success = success, RolledBack = !success, At = DateTimeOffset.UtcNow,
                FailedStep = failed, TimeToRecoverSeconds = ttr, DetectSeconds = ttr is null ? null : 2, DecideSeconds = ttr is null ? null : 0, ApproveSeconds = ttr is null ? null : 0,
                ActSeconds = ttr is null ? null : 4, VerifySeconds = ttr is null ? null : 6,
            };
            db.Outcomes.AddRange(Outcome(true, null, 12), Outcome(false, "3 switch-b"), Outcome(false, "3 switch-b"), Outcome(false, "2 drain-a"));
            await db.SaveChangesAsync();
        }

        var cut = Render<Learning>();
        cut.WaitForAssertion(() => Assert.Equal("step 3 switch-b (2×)", cut.Find(".stat-failing-step").TextContent));
        Assert.Equal("12 s", cut.Find(".stat-ttr").TextContent);
        Assert.Equal("detect 2 s · decide 0 ms · approve 0 ms · act 4 s · verify 6 s", cut.Find(".stat-ttr-parts").TextContent);
    }
}
