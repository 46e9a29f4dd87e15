using System.Net;
using System.Net.Http.Json;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>
/// A mission whose step keeps failing is retried without end (the cause is usually passing), but it
/// says so on its status after a few attempts instead of sitting in its state with nothing said, and
/// the status clears once it moves again.
/// </summary>
public sealed class MissionStallTests
{
    [Fact]
    public async Task A_mission_that_keeps_failing_to_move_says_why_and_clears_it_once_it_moves()
    {
        using var folder = new TempFolder();
        using var holder = TestCatalog.GrowWal(folder.Combine("app.db"));
        await using var host = new GraceHost(TestCatalog.Settings(folder)).Start();
        // A lasting fault on the way to the action: the target fences' table is gone, so the gate
        // of a tier-0 mission fails every time it reads its target's fence.
        await using (var db = host.CreateDb())
        {
            await db.Database.ExecuteSqlRawAsync("ALTER TABLE \"TargetFences\" RENAME TO \"TargetFencesAway\"");
        }

        using (var client = host.IngestClient())
        {
            var response = await client.PostAsJsonAsync("/api/signals", new { source = "orders-api", message = TestCatalog.WalMessage, severity = "Error" });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var stalled = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.StatusReason is not null, "stalled", 30);
        Assert.Equal(MissionState.Planned, stalled.State);
        Assert.StartsWith(MissionStallNotice.Prefix, stalled.StatusReason);
        Assert.Contains("TargetFences", stalled.StatusReason, StringComparison.Ordinal);

        await using (var db = host.CreateDb())
        {
            await db.Database.ExecuteSqlRawAsync("ALTER TABLE \"TargetFencesAway\" RENAME TO \"TargetFences\"");
        }

        var healed = await host.WaitForMissionAsync(m => m.Id == stalled.Id && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Succeeded, healed.State);
        Assert.Null(healed.StatusReason);
    }
}
