using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Grace.Data.Entities;
using Grace.Engine.Execute;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>People act on incidents through the API, on a real host: the rules hold in the service, every action is audited and on the timeline.</summary>
public sealed class IncidentActionTests : SqliteDatabaseTest
{
    private const string Password = "Incident-Test-Password-1";
    private string Cache => Folder.Combine("cache-root", "thumbnails");

    private async Task<GraceHost> HostAsync()
    {
        var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings())).Start();
        await host.CreateUserAsync("olivia", Password, GraceRoles.Operator);
        await host.CreateUserAsync("oscar", Password, GraceRoles.Operator);
        await host.CreateUserAsync("vera", Password, GraceRoles.Viewer);
        return host;
    }

    /// <summary>A full cache whose tier-2 mission an operator rejected: the incident needs a human.</summary>
    private static async Task<Guid> RejectedCacheIncidentAsync(GraceHost host)
    {
        using var client = host.IngestClient();
        (await client.PostAsJsonAsync("/api/signals", new { source = "thumbnailer", message = TestCatalog.CacheMessage })).EnsureSuccessStatusCode();
        var waiting = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        await host.Get<ApprovalService>().DecideAsync(waiting.Id, new Actor("oscar", [GraceRoles.Operator]), ApprovalVerdict.Reject, "not at lunchtime", default);
        await host.WaitUntilAsync(async db => await db.Incidents.AnyAsync(i => i.Id == waiting.IncidentId && i.NeedsHuman), 20);
        return waiting.IncidentId;
    }

    [Fact]
    public async Task Operators_acknowledge_assign_comment_and_resolve_through_the_api_each_audited_and_on_the_timeline()
    {
        TestCatalog.FillCache(Cache);
        await using var host = await HostAsync();
        var incidentId = await RejectedCacheIncidentAsync(host);
        using var olivia = host.ClientWithCookie(await host.SignInAsync("olivia", Password));

        Assert.Equal(HttpStatusCode.OK, (await olivia.PostAsJsonAsync($"/api/incidents/{incidentId}/acknowledge", new { })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await olivia.PostAsJsonAsync($"/api/incidents/{incidentId}/assign", new { assignee = "oscar" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await olivia.PostAsJsonAsync($"/api/incidents/{incidentId}/comment", new { text = "disk is on a slow NFS mount" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await olivia.PostAsJsonAsync($"/api/incidents/{incidentId}/resolve", new { reason = "moved the cache to local disk" })).StatusCode);

        await using var db = host.CreateDb();
        var incident = await db.Incidents.SingleAsync(i => i.Id == incidentId);
        Assert.Equal(IncidentStatus.Resolved, incident.Status);
        Assert.False(incident.NeedsHuman);
        Assert.Equal("olivia", incident.AcknowledgedBy);
        Assert.Equal("oscar", incident.AssignedTo);
        var people = await db.IncidentEvents.Where(e => e.IncidentId == incidentId && e.Actor == "olivia").OrderBy(e => e.Id).ToListAsync();
        Assert.Equal([IncidentEventKind.Acknowledged, IncidentEventKind.Assigned, IncidentEventKind.Commented, IncidentEventKind.Resolved], people.Select(e => e.Kind).ToList());
        Assert.Contains("disk is on a slow NFS mount", people[2].Message);
        var audit = await db.AuditEntries.Where(a => a.Subject == $"incident/{incidentId}").OrderBy(a => a.Id).ToListAsync();
        Assert.Equal(["incident.acknowledge", "incident.assign", "incident.comment", "incident.resolve"], audit.Select(a => a.Action).ToList());
        Assert.All(audit, a => Assert.Equal("olivia", a.Actor));

        // The detail answers with the timeline and links to the missions.
        using var detail = JsonDocument.Parse(await olivia.GetStringAsync($"/api/incidents/{incidentId}"));
        Assert.Equal($"/missions/{detail.RootElement.GetProperty("missions")[0].GetProperty("id").GetGuid()}", detail.RootElement.GetProperty("missions")[0].GetProperty("link").GetString());
        Assert.Contains(detail.RootElement.GetProperty("timeline").EnumerateArray(), e => e.GetProperty("kind").GetString() == "NeedsHuman");
    }

    [Fact]
    public async Task Viewers_are_refused_and_bad_input_is_a_problem_naming_the_field()
    {
        TestCatalog.FillCache(Cache);
        await using var host = await HostAsync();
        var incidentId = await RejectedCacheIncidentAsync(host);
        using var vera = host.ClientWithCookie(await host.SignInAsync("vera", Password));
        foreach (var (path, body) in new (string, object)[]
                 {
                     ("acknowledge", new { }), ("assign", new { assignee = "vera" }), ("comment", new { text = "hi" }),
                     ("resolve", new { reason = "fine" }), ("run", new { playbook = "test-clear-cache" }),
                 })
        {
            var refused = await vera.PostAsJsonAsync($"/api/incidents/{incidentId}/{path}", body);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("may not act on incidents", await refused.Content.ReadAsStringAsync());
        }

        // A viewer still reads.
        Assert.Equal(HttpStatusCode.OK, (await vera.GetAsync($"/api/incidents/{incidentId}")).StatusCode);

        using var olivia = host.ClientWithCookie(await host.SignInAsync("olivia", Password));
        async Task AssertFieldAsync(string path, object body, string field, string text)
        {
            var response = await olivia.PostAsJsonAsync($"/api/incidents/{incidentId}/{path}", body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Contains(text, problem.RootElement.GetProperty("errors").GetProperty(field)[0].GetString());
        }

        await AssertFieldAsync("assign", new { }, "assignee", "assignee is required");
        await AssertFieldAsync("assign", new { assignee = "nobody-here" }, "assignee", "there is no user 'nobody-here'");
        await AssertFieldAsync("comment", new { text = new string('x', 3000) }, "text", "at most 2048");
        await AssertFieldAsync("resolve", new { reason = " " }, "reason", "reason is required");
        await AssertFieldAsync("run", new { playbook = "test-checkpoint" }, "playbook", "not a candidate of pattern 'test-cache'");
        await AssertFieldAsync("run", new { playbook = "test-clear-cache", dryRun = "yes" }, "dryRun", "dryRun must be a boolean");
        Assert.Equal(HttpStatusCode.NotFound, (await olivia.PostAsJsonAsync($"/api/incidents/{Guid.NewGuid()}/acknowledge", new { })).StatusCode);

        await using var db = host.CreateDb();
        Assert.False(await db.AuditEntries.AnyAsync(a => a.Actor == "vera" && a.Subject.StartsWith("incident/")));
        Assert.False(await db.IncidentEvents.AnyAsync(e => e.Actor == "vera"));
    }

    [Fact]
    public async Task Run_now_goes_through_the_tier_and_its_approvers_with_a_dry_run_first()
    {
        TestCatalog.FillCache(Cache, files: 4);
        await using var host = await HostAsync();
        var incidentId = await RejectedCacheIncidentAsync(host);
        using var olivia = host.ClientWithCookie(await host.SignInAsync("olivia", Password));
        var approvals = host.Get<ApprovalService>();

        // A dry run first: tier 2 still waits for an approver, and the one who asked may not approve it.
        var dry = await olivia.PostAsJsonAsync($"/api/incidents/{incidentId}/run", new { playbook = "test-clear-cache", dryRun = true });
        Assert.Equal(HttpStatusCode.Accepted, dry.StatusCode);
        var dryId = JsonDocument.Parse(await dry.Content.ReadAsStringAsync()).RootElement.GetProperty("mission").GetGuid();
        var waiting = await host.WaitForMissionAsync(m => m.Id == dryId && m.State == MissionState.AwaitingApproval, "awaiting approval");
        Assert.True(waiting.DryRun);
        Assert.Equal(MissionOrigin.Person, waiting.Origin);
        Assert.Equal("olivia", waiting.RequestedBy);
        var own = await Assert.ThrowsAsync<MissionOperationException>(() => approvals.DecideAsync(dryId, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default));
        Assert.True(own.Forbidden);
        // A second run while one is under way is refused.
        Assert.Equal(HttpStatusCode.Conflict, (await olivia.PostAsJsonAsync($"/api/incidents/{incidentId}/run", new { playbook = "test-clear-cache" })).StatusCode);
        await approvals.DecideAsync(dryId, new Actor("oscar", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default);
        var dryDone = await host.WaitForMissionAsync(m => m.Id == dryId && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.DryRunCompleted, dryDone.State);
        Assert.True(CacheDirectoryExecutor.DirectoryBytes(Cache) > 0, "a dry run changes nothing");

        // Then for real.
        var run = await olivia.PostAsJsonAsync($"/api/incidents/{incidentId}/run", new { playbook = "test-clear-cache" });
        Assert.Equal(HttpStatusCode.Accepted, run.StatusCode);
        var runId = JsonDocument.Parse(await run.Content.ReadAsStringAsync()).RootElement.GetProperty("mission").GetGuid();
        await host.WaitForMissionAsync(m => m.Id == runId && m.State == MissionState.AwaitingApproval, "awaiting approval");
        await approvals.DecideAsync(runId, new Actor("oscar", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default);
        var healed = await host.WaitForMissionAsync(m => m.Id == runId && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.Succeeded, healed.State);
        Assert.Equal(0, CacheDirectoryExecutor.DirectoryBytes(Cache));

        // The success is learned (and the ladder cleared) in the commit after the contract's.
        await host.WaitUntilAsync(async d => await d.Outcomes.AnyAsync(o => o.MissionId == runId));
        await using var db = host.CreateDb();
        var incident = await db.Incidents.SingleAsync(i => i.Id == incidentId);
        Assert.Equal(IncidentStatus.Resolved, incident.Status);
        Assert.False(incident.NeedsHuman);
        var runs = await db.AuditEntries.Where(a => a.Action == "incident.run-playbook").OrderBy(a => a.Id).Select(a => a.Detail).ToListAsync();
        Assert.Equal(["test-clear-cache (dry run)", "test-clear-cache"], runs);
    }

    [Fact]
    public async Task Time_to_recover_runs_from_the_first_signal_to_the_verified_contract_split_into_its_parts()
    {
        TestCatalog.FillCache(Cache, files: 4);
        await using var host = await HostAsync();
        using var client = host.IngestClient();
        (await client.PostAsJsonAsync("/api/signals", new { source = "thumbnailer", message = TestCatalog.CacheMessage })).EnsureSuccessStatusCode();
        var waiting = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // The approver takes a moment.
        await host.Get<ApprovalService>().DecideAsync(waiting.Id, new Actor("oscar", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default);
        var mission = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.Succeeded, mission.State);

        await host.WaitUntilAsync(async db => await db.Outcomes.AnyAsync(o => o.MissionId == mission.Id));
        await using var db = host.CreateDb();
        var outcome = await db.Outcomes.SingleAsync(o => o.MissionId == mission.Id);
        var incident = await db.Incidents.SingleAsync(i => i.Id == mission.IncidentId);
        var events = await db.MissionEvents.Where(e => e.MissionId == mission.Id).OrderBy(e => e.Id).ToListAsync();
        var verified = mission.Contract!.VerifiedAt!.Value;
        Assert.Equal((verified - incident.OpenedAt).TotalSeconds, outcome.TimeToRecoverSeconds!.Value, 3);
        Assert.Equal(outcome.TimeToRecoverSeconds!.Value, outcome.DetectSeconds!.Value + outcome.DecideSeconds!.Value + outcome.ApproveSeconds!.Value + outcome.ActSeconds!.Value + outcome.VerifySeconds!.Value, 3);
        Assert.Equal((mission.CreatedAt - incident.OpenedAt).TotalSeconds, outcome.DetectSeconds!.Value, 3);
        var asked = events.First(e => e.Kind == "awaiting-approval").At;
        var approved = events.First(e => e.Kind == "approved").At;
        Assert.Equal((approved - asked).TotalSeconds, outcome.ApproveSeconds!.Value, 3);
        Assert.True(outcome.ApproveSeconds >= 1.5, $"approve {outcome.ApproveSeconds} s");
        Assert.Equal((events.First(e => e.Kind == "executed").At - events.First(e => e.Kind == "intent").At).TotalSeconds + (events.First(e => e.Kind == "intent").At - approved).TotalSeconds,
            outcome.ActSeconds!.Value, 3);
        Assert.True(outcome.TimeToRecoverSeconds > 1.5);
        var stats = await db.PlaybookStatistics.SingleAsync(s => s.PlaybookKey == "test-clear-cache");
        Assert.Equal(outcome.TimeToRecoverSeconds!.Value, stats.MeanTimeToRecoverSeconds, 3);

        // The export carries the parts too.
        using var olivia = host.ClientWithCookie(await host.SignInAsync("olivia", Password));
        var csv = (await olivia.GetStringAsync("/api/outcomes.csv?days=1")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("at,mission,pattern,playbook,target,final_state,success,rolled_back,time_to_recover_s,detect_s,decide_s,approve_s,act_s,verify_s,failed_step", csv[0]);
        var row = csv.Single(l => l.Contains(mission.Id.ToString(), StringComparison.Ordinal)).Split(',');
        // The export writes three decimals (rounded half away from zero), so compare within half a thousandth.
        Assert.Equal(outcome.ApproveSeconds!.Value, double.Parse(row[11], System.Globalization.CultureInfo.InvariantCulture), 0.0005 + 1e-9);
    }
}
