using System.Net;
using System.Net.Http.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Adapters.Logging;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Serilog.Events;

namespace Grace.Tests.Integration;

/// <summary>The healing pipeline end to end, on a real Grace host and a real database.</summary>
public abstract class PipelineTests(DatabaseProvider provider) : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync(provider, _folder);

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private GraceHost NewHost() => new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings())).Start();

    private static async Task PostSignalAsync(GraceHost host, string message, string source = "orders-api", string? exceptionType = null)
    {
        using var client = host.IngestClient();
        var response = await client.PostAsJsonAsync("/api/signals", new { source, message, severity = "Error", exceptionType });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task An_error_signal_becomes_a_tier0_mission_whose_checkpoint_really_shrinks_the_wal_and_is_learned()
    {
        var appDb = _folder.Combine("app.db");
        using var holder = TestCatalog.GrowWal(appDb);
        var walBefore = new FileInfo(appDb + "-wal").Length;
        Assert.True(walBefore > 100_000, $"the test WAL should have grown, it is {walBefore} bytes");

        await using var host = NewHost();
        // Two reports with other numbers in one batch: the same incident, one mission.
        using (var client = host.IngestClient())
        {
            var response = await client.PostAsJsonAsync("/api/signals", new[]
            {
                new { source = "orders-api", message = $"{TestCatalog.WalMessage} after 1234 ms", exceptionType = "Microsoft.Data.Sqlite.SqliteException" },
                new { source = "orders-api", message = $"{TestCatalog.WalMessage} after 98 ms", exceptionType = "Microsoft.Data.Sqlite.SqliteException" },
            });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.Equal(0, new FileInfo(appDb + "-wal").Length);
        Assert.Equal(ContractVerdict.Met, mission.Contract!.Verdict);
        Assert.Equal(0, mission.Contract.ObservedValue);
        Assert.True(mission.Contract.BaselineValue >= walBefore, $"the baseline reading ({mission.Contract.BaselineValue}) is the grown WAL");

        var kinds = mission.Events.OrderBy(e => e.Id).Select(e => e.Kind).ToList();
        // Both present, the intent first (a missing intent would read -1 and still be "before").
        Assert.InRange(kinds.IndexOf("intent"), 0, kinds.IndexOf("executed") - 1);
        Assert.Contains("contract-met", kinds);

        await host.WaitUntilAsync(async db => await db.Outcomes.AnyAsync(o => o.MissionId == mission.Id));
        await using var db = host.CreateDb();
        var outcome = await db.Outcomes.SingleAsync(o => o.MissionId == mission.Id);
        Assert.True(outcome.Success);
        Assert.NotNull(outcome.TimeToRecoverSeconds);
        var stats = await db.PlaybookStatistics.SingleAsync(s => s.PlaybookKey == "test-checkpoint");
        Assert.Equal(1, stats.Runs);
        Assert.Equal(1, stats.Successes);
        Assert.Equal(1.0, stats.SuccessRate);
        Assert.True(stats.Confidence is > 0.1 and < 0.5, $"one success gives a cautious confidence, got {stats.Confidence}");
        Assert.True(stats.Recommended);

        var incident = await db.Incidents.SingleAsync(i => i.Id == mission.IncidentId);
        Assert.Equal(2, incident.Count);
        Assert.Equal(IncidentStatus.Resolved, incident.Status);
        Assert.Single(await db.Missions.Where(m => m.IncidentId == incident.Id).ToListAsync());
    }

    [Fact]
    public async Task A_tier2_mission_waits_survives_a_restart_and_runs_once_approved()
    {
        var cache = _folder.Combine("cache-root", "thumbnails");
        TestCatalog.FillCache(cache);
        Guid missionId;
        await using (var first = NewHost())
        {
            await PostSignalAsync(first, TestCatalog.CacheMessage);
            var waiting = await first.WaitForMissionAsync(m => m.PlaybookKey == "test-clear-cache" && m.State == MissionState.AwaitingApproval, "awaiting approval");
            missionId = waiting.Id;
            Assert.Equal(1, waiting.Approval!.RequiredCount);
            Assert.True(Directory.EnumerateFileSystemEntries(cache).Any(), "nothing runs before approval");
        }

        await using var second = NewHost();
        var after = await second.WaitForMissionAsync(m => m.Id == missionId, "still there after the restart");
        Assert.Equal(MissionState.AwaitingApproval, after.State);

        var approvals = second.Get<ApprovalService>();
        var requester = new Actor(GraceHost.IngestReporter, [GraceRoles.Operator]);
        var selfApproval = await Assert.ThrowsAsync<MissionOperationException>(() => approvals.DecideAsync(missionId, requester, ApprovalVerdict.Approve, null, default));
        Assert.Contains("requested this mission", selfApproval.Message);
        var viewer = new Actor("victor", [GraceRoles.Viewer]);
        var refused = await Assert.ThrowsAsync<MissionOperationException>(() => approvals.DecideAsync(missionId, viewer, ApprovalVerdict.Approve, null, default));
        Assert.True(refused.Forbidden);

        var status = await approvals.DecideAsync(missionId, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Approve, "cache is disposable", default);
        Assert.Equal(ApprovalStatus.Approved, status);

        // Learned: the success is committed first, then the quarantine released, then the outcome learned.
        var done = await second.WaitForMissionAsync(m => m.Id == missionId && m.Stage == PipelineStage.Learn, "finished and learned");
        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Empty(Directory.EnumerateFileSystemEntries(cache));
        // Success is committed first, then the quarantine is released (nothing can roll back any more).
        var quarantine = _folder.Combine("quarantine", missionId.ToString("N"));
        for (var deadline = DateTime.UtcNow.AddSeconds(10); Directory.Exists(quarantine) && DateTime.UtcNow < deadline; await Task.Delay(50))
        {
        }

        Assert.False(Directory.Exists(quarantine), "the quarantine is released once the contract held");
        Assert.Contains(done.Events, e => e.Kind == "approved" && e.Actor == "olivia");

        await using var db = second.CreateDb();
        Assert.Contains(await db.AuditEntries.ToListAsync(), a => a.Actor == "olivia" && a.Action == "mission.approve" && a.Detail == "cache is disposable");
    }

    [Fact]
    public async Task A_failed_contract_rolls_back_and_the_level_is_back_where_it_was()
    {
        await using var host = NewHost();
        var levels = host.Get<LogLevelController>();
        var before = levels.GetLevel("Grace.Web");

        await PostSignalAsync(host, TestCatalog.LoggingMessage, source: "checkout");
        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-debug-logging" && m.CompletedAt != null, "finished", 30);

        Assert.Equal(MissionState.RolledBack, mission.State);
        Assert.Equal(ContractVerdict.Failed, mission.Contract!.Verdict);
        Assert.Equal((double)(int)LogEventLevel.Debug, mission.Contract.ObservedValue);
        Assert.Equal(before, levels.GetLevel("Grace.Web"));
        Assert.Contains(mission.Events, e => e.Kind == "rolled-back" && e.Message.Contains("restored to", StringComparison.Ordinal));

        await host.WaitUntilAsync(async db => await db.PlaybookStatistics.AnyAsync(s => s.PlaybookKey == "test-debug-logging"));
        await using var db = host.CreateDb();
        var stats = await db.PlaybookStatistics.SingleAsync(s => s.PlaybookKey == "test-debug-logging");
        Assert.Equal(1, stats.Runs);
        Assert.Equal(0, stats.Successes);
        Assert.Equal(1, stats.Rollbacks);
        Assert.Equal(0, stats.Confidence);
    }
}

public sealed class SqlitePipelineTests() : PipelineTests(DatabaseProvider.Sqlite);

public sealed class PostgresPipelineTests() : PipelineTests(DatabaseProvider.Postgres);
