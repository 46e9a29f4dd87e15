using System.Net.Http.Json;
using Grace.Data.Entities;
using Grace.Engine.Adapters.Logging;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Serilog.Events;

namespace Grace.Tests.Integration;

/// <summary>
/// Runbooks on a real host with real actions: a Serilog level switch, and http.call on a recording
/// service that remembers every call and undo in the order they arrived.
/// </summary>
public sealed class RunbookTests : SqliteDatabaseTest
{
    private static Dictionary<string, string?> Runbook(RecordingTarget recording) => new()
    {
        ["Grace:Targets:rec-a:Kind"] = "Http",
        ["Grace:Targets:rec-a:Url"] = recording.Url,
        ["Grace:Targets:rec-b:Kind"] = "Http",
        ["Grace:Targets:rec-b:Url"] = recording.Url,
        ["Grace:Patterns:test-runbook:MessageRegex"] = "test runbook needed",
        ["Grace:Patterns:test-runbook:Playbooks:0"] = "three-steps",
        ["Grace:Patterns:test-runbook:Escalation:Enabled"] = "false",
        ["Grace:Playbooks:three-steps:Tier"] = "0",
        // 1: Grace.Web at Debug (a real level switch); its contract holds at once.
        ["Grace:Playbooks:three-steps:Steps:0:Name"] = "debug-web",
        ["Grace:Playbooks:three-steps:Steps:0:Action"] = "logging.set-level",
        ["Grace:Playbooks:three-steps:Steps:0:Target"] = "grace",
        ["Grace:Playbooks:three-steps:Steps:0:Parameters:Source"] = "Grace.Web",
        ["Grace:Playbooks:three-steps:Steps:0:Parameters:Level"] = "Debug",
        ["Grace:Playbooks:three-steps:Steps:0:Contract:Probe"] = "logging.level",
        ["Grace:Playbooks:three-steps:Steps:0:Contract:Parameters:Source"] = "Grace.Web",
        ["Grace:Playbooks:three-steps:Steps:0:Contract:Comparator"] = "Equal",
        ["Grace:Playbooks:three-steps:Steps:0:Contract:Threshold"] = "1",
        ["Grace:Playbooks:three-steps:Steps:0:Contract:DeadlineSeconds"] = "5",
        // 2: a call on the recording service, with its undo call.
        ["Grace:Playbooks:three-steps:Steps:1:Name"] = "drain-a",
        ["Grace:Playbooks:three-steps:Steps:1:Action"] = "http.call",
        ["Grace:Playbooks:three-steps:Steps:1:Target"] = "rec-a",
        ["Grace:Playbooks:three-steps:Steps:1:Parameters:Path"] = RecordingTarget.PathOf("rec-a", "act"),
        ["Grace:Playbooks:three-steps:Steps:1:Parameters:RollbackPath"] = RecordingTarget.PathOf("rec-a", "undo"),
        ["Grace:Playbooks:three-steps:Steps:1:Contract:Probe"] = "http.status",
        ["Grace:Playbooks:three-steps:Steps:1:Contract:Parameters:Path"] = RecordingTarget.PathOf("rec-a", "ok"),
        ["Grace:Playbooks:three-steps:Steps:1:Contract:Comparator"] = "LessThan",
        ["Grace:Playbooks:three-steps:Steps:1:Contract:Threshold"] = "400",
        ["Grace:Playbooks:three-steps:Steps:1:Contract:DeadlineSeconds"] = "5",
        // 3: a call the service does not know (404): the step fails.
        ["Grace:Playbooks:three-steps:Steps:2:Name"] = "switch-b",
        ["Grace:Playbooks:three-steps:Steps:2:Action"] = "http.call",
        ["Grace:Playbooks:three-steps:Steps:2:Target"] = "rec-b",
        ["Grace:Playbooks:three-steps:Steps:2:Parameters:Path"] = RecordingTarget.PathOf("rec-b", "missing"),
        ["Grace:Playbooks:three-steps:Steps:2:Parameters:RollbackPath"] = RecordingTarget.PathOf("rec-b", "undo"),
        ["Grace:Playbooks:three-steps:Steps:2:Contract:Probe"] = "http.status",
        ["Grace:Playbooks:three-steps:Steps:2:Contract:Parameters:Path"] = RecordingTarget.PathOf("rec-b", "ok"),
        ["Grace:Playbooks:three-steps:Steps:2:Contract:Comparator"] = "LessThan",
        ["Grace:Playbooks:three-steps:Steps:2:Contract:Threshold"] = "400",
        ["Grace:Playbooks:three-steps:Steps:2:Contract:DeadlineSeconds"] = "5",
    };

    [Fact]
    public async Task A_three_step_runbook_whose_third_step_fails_undoes_steps_two_and_one_in_that_order()
    {
        await using var recording = await RecordingTarget.StartAsync();
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(Runbook(recording))).Start();
        var levels = host.Get<LogLevelController>();
        var before = levels.GetLevel("Grace.Web");
        Assert.NotEqual(LogEventLevel.Debug, before);

        using var client = host.IngestClient();
        (await client.PostAsJsonAsync("/api/signals", new { source = "orders", message = "Orders stuck: test runbook needed" })).EnsureSuccessStatusCode();
        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "three-steps" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.RolledBack, mission.State);

        // Step 2 reached the service once; step 3's call failed; then the undos came: step 3's own, then step 2's.
        var act = Assert.Single(recording.Actions);
        Assert.Equal("rec-a", act.Target);
        Assert.Equal(["rec-b", "rec-a"], recording.Undos.Select(u => u.Target).ToList());
        Assert.All(recording.Undos, u => Assert.Equal(mission.Id.ToString(), u.Mission));
        // Step 1 undone: the real level switch is back where it was.
        Assert.Equal(before, levels.GetLevel("Grace.Web"));

        await using var db = host.CreateDb();
        var steps = await db.MissionSteps.AsNoTracking().Where(s => s.MissionId == mission.Id).OrderBy(s => s.Index).ToListAsync();
        Assert.Equal([RunbookStepState.Compensated, RunbookStepState.Compensated, RunbookStepState.RolledBack], steps.Select(s => s.State).ToList());

        // The timeline shows each step, the failure, and the compensation last-first.
        var lines = mission.Events.OrderBy(e => e.Id).ToList();
        int Index(string kind, string text) => lines.FindIndex(e => e.Kind == kind && e.Message.Contains(text, StringComparison.Ordinal));
        var failed = Math.Max(Index("failed", "Step 3 of 3 (switch-b)"), Index("refused", "Step 3 of 3 (switch-b)"));
        var undoTwo = Index("compensated", "Step 2 of 3 (drain-a)");
        var undoOne = Index("compensated", "Step 1 of 3 (debug-web)");
        Assert.True(Index("step-met", "Step 1 of 3 (debug-web)") >= 0, string.Join("\n", lines.Select(e => $"{e.Kind}: {e.Message}")));
        Assert.True(Index("step-met", "Step 2 of 3 (drain-a)") > Index("step-met", "Step 1 of 3"));
        Assert.True(failed > 0 && undoTwo > failed && undoOne > undoTwo, string.Join("\n", lines.Select(e => $"{e.Kind}: {e.Message}")));
        Assert.Contains(lines, e => e.Kind == "rolled-back" && e.Message.StartsWith("Runbook rolled back", StringComparison.Ordinal));

        // Learning counts the runbook as one playbook run, and knows which step failed.
        await host.WaitUntilAsync(async d => await d.Outcomes.AnyAsync(o => o.MissionId == mission.Id));
        var outcome = await db.Outcomes.SingleAsync(o => o.MissionId == mission.Id);
        Assert.Equal("3 switch-b", outcome.FailedStep);
        var stats = await db.PlaybookStatistics.SingleAsync(s => s.PlaybookKey == "three-steps");
        Assert.Equal(1, stats.Runs);
        Assert.Equal(1, stats.Rollbacks);
    }

    [Fact]
    public async Task A_runbook_whose_steps_all_hold_succeeds_after_running_each_step_once_on_its_own_target()
    {
        await using var recording = await RecordingTarget.StartAsync();
        var settings = Runbook(recording);
        settings["Grace:Playbooks:three-steps:Steps:2:Parameters:Path"] = RecordingTarget.PathOf("rec-b", "act");
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(settings)).Start();
        var levels = host.Get<LogLevelController>();

        using var client = host.IngestClient();
        (await client.PostAsJsonAsync("/api/signals", new { source = "orders", message = "Orders stuck: test runbook needed" })).EnsureSuccessStatusCode();
        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "three-steps" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.Equal(["rec-a", "rec-b"], recording.Actions.OrderBy(a => a.Started).Select(a => a.Target).ToList());
        Assert.Empty(recording.Undos);
        Assert.Equal(LogEventLevel.Debug, levels.GetLevel("Grace.Web"));
        levels.SetLevel("Grace.Web", LogEventLevel.Information);
        await using var db = host.CreateDb();
        Assert.All(await db.MissionSteps.Where(s => s.MissionId == mission.Id).ToListAsync(), s => Assert.Equal(RunbookStepState.Succeeded, s.State));
        await host.WaitUntilAsync(async d => await d.Outcomes.AnyAsync(o => o.MissionId == mission.Id));
        Assert.Null((await db.Outcomes.SingleAsync(o => o.MissionId == mission.Id)).FailedStep);
    }

    [Fact]
    public async Task A_broken_runbook_stops_the_start_naming_its_keys()
    {
        await using var recording = await RecordingTarget.StartAsync();
        var settings = Runbook(recording);
        settings["Grace:Playbooks:three-steps:Steps:1:Action"] = "http.cal";
        settings["Grace:Playbooks:three-steps:Steps:2:Target"] = "rec-c";
        settings["Grace:Playbooks:three-steps:Steps:0:Contract:Probe"] = "";
        settings["Grace:Playbooks:three-steps:Action"] = "logging.set-level";
        settings["Grace:Patterns:test-runbook:Escalation:Retries"] = "99";
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(settings));
        var error = Assert.ThrowsAny<Exception>(() => host.Start());
        var message = string.Join("\n", Flatten(error).Select(e => e is OptionsValidationException v ? string.Join("\n", v.Failures) : e.Message));
        Assert.Contains("Grace:Playbooks:three-steps:Steps:1:Action: unknown action 'http.cal'", message);
        Assert.Contains("Grace:Playbooks:three-steps:Steps:2:Target: target 'rec-c' is not defined", message);
        Assert.Contains("Grace:Playbooks:three-steps:Steps:0:Contract:Probe: unknown probe ''", message);
        Assert.Contains("Grace:Playbooks:three-steps:Action must be left out of a runbook", message);
        Assert.Contains("Grace:Patterns:test-runbook:Escalation:Retries must be between 0 and 10", message);
    }

    private static IEnumerable<Exception> Flatten(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten))
                {
                    yield return inner;
                }
            }
        }
    }
}
