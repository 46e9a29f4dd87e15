using System.Net;
using System.Net.Http.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Execute;
using Grace.Engine.Faults;
using Grace.Engine.Missions;
using Grace.Engine.Adapters.Processes;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>The demo: a real fault injected into a real local target becomes a verified mission, with the shipped catalog.</summary>
public sealed class FaultInjectionTests : SqliteDatabaseTest
{
    private GraceHost Host(bool enabled) => new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
    {
        ["Grace:Faults:Enabled"] = enabled ? "true" : "false",
        ["Grace:Targets:demo-orders-db:Path"] = Folder.Combine("demo", "orders.db"),
        ["Grace:Targets:demo-orders-db:HealthCheck:IntervalSeconds"] = "1",
        ["Grace:Targets:demo-worker:HealthCheck:IntervalSeconds"] = "1",
        // Three failed readings in a row: a loaded test machine may start the worker's first line late.
        ["Grace:Targets:demo-worker:HealthCheck:FailureThreshold"] = "3",
        ["Grace:Targets:demo-orders-api:HealthCheck:IntervalSeconds"] = "1",
        ["Grace:Targets:grace-cache:Path"] = Folder.Combine("cache-root", "grace"),
        ["Grace:Targets:grace-cache:HealthCheck:IntervalSeconds"] = "1",
    })).Start();

    private static readonly Actor Admin = new("admin", [GraceRoles.Admin]);

    [Fact]
    public async Task A_grown_wal_is_noticed_by_its_health_check_and_healed_by_the_shipped_playbook()
    {
        await using var host = Host(enabled: true);
        var result = await host.Get<FaultInjector>().InjectAsync(WalGrowthFault.Kind, "demo-orders-db", 6, new Actor("admin", [GraceRoles.Admin]), default);
        Assert.Contains("grown to", result);
        Assert.True(SqliteCheckpointExecutor.WalBytes(Folder.Combine("demo", "orders.db")) >= 6 * 1024 * 1024);

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "checkpoint-demo-db" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.Equal(0, SqliteCheckpointExecutor.WalBytes(Folder.Combine("demo", "orders.db")));
        await using var db = host.CreateDb();
        Assert.Contains(db.AuditEntries.ToList(), a => a.Action == "fault.inject" && a.Actor == "admin");
    }

    [Fact]
    public async Task Only_admins_inject_and_only_when_enabled()
    {
        await using (var off = Host(enabled: false))
        {
            using var admin = off.ClientWithCookie(await off.SignInAsync("admin", TestCatalog.AdminPassword));
            var refused = await admin.PostAsJsonAsync("/api/faults", new { kind = "CacheFill", target = "grace-cache", megabytes = 1 });
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        }

        await using var on = Host(enabled: true);
        var lead = await Assert.ThrowsAsync<MissionOperationException>(() =>
            on.Get<FaultInjector>().InjectAsync(CacheFillFault.Kind, "grace-cache", 1, new Actor("lena", [GraceRoles.Lead]), default));
        Assert.True(lead.Forbidden);
        var wrongKind = await Assert.ThrowsAsync<MissionOperationException>(() =>
            on.Get<FaultInjector>().InjectAsync(CacheFillFault.Kind, "demo-orders-db", 1, new Actor("ada", [GraceRoles.Admin]), default));
        Assert.Contains("does not apply", wrongKind.Message);
    }

    [Fact]
    public async Task A_hung_worker_is_noticed_by_its_heartbeat_and_restarted_until_it_is_responsive_again()
    {
        await using var host = Host(enabled: true);
        var supervisor = host.Get<ProcessSupervisor>();
        var hung = supervisor.ProcessOf("demo-worker");
        Assert.NotNull(hung);

        var result = await host.Get<FaultInjector>().InjectAsync(ProcessHangFault.Kind, "demo-worker", 1, Admin, default);
        Assert.Contains("SIGSTOP", result);
        await host.WaitUntilAsync(_ => Task.FromResult(ProcessSupervisor.IsStopped(hung)));

        // Nobody logs a hang: the shipped responsiveness check (stopped, or silent for 5 s) raises it, and the shipped tier-1 playbook restarts the worker.
        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "restart-demo-worker" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.Equal(ContractVerdict.Met, mission.Contract!.Verdict);
        Assert.Contains(mission.Events, e => e.Kind == "executed" && e.Message.Contains("healthy after", StringComparison.Ordinal));
        Assert.True(hung.HasExited);
        var restarted = supervisor.ProcessOf("demo-worker");
        Assert.NotNull(restarted);
        Assert.NotEqual(hung.Id, restarted.Id);
        Assert.False(ProcessSupervisor.IsStopped(restarted));
        await using var db = host.CreateDb();
        var incident = await db.Incidents.SingleAsync(i => i.Id == mission.IncidentId);
        Assert.Equal("health:demo-worker", incident.Source);
    }

    [Fact]
    public async Task A_failing_health_endpoint_is_reset_over_http_by_the_shipped_playbook_and_its_benchmark_improves()
    {
        await using var host = Host(enabled: true);
        var demo = host.Get<DemoService>();
        Assert.True(demo.IsListening);
        using var http = new HttpClient { BaseAddress = demo.ListeningOn };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);

        var result = await host.Get<FaultInjector>().InjectAsync(HealthEndpointFault.Kind, "demo-orders-api", 1, Admin, default);
        Assert.Contains("503", result);
        var failing = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, failing.StatusCode);
        Assert.Contains("connection pool is exhausted", await failing.Content.ReadAsStringAsync());

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "reset-demo-api-pool" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.Contains(mission.Events, e => e.Kind == "executed" && e.Message.Contains("POST", StringComparison.Ordinal) && e.Message.Contains("/admin/reset-pool", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
        Assert.Null(demo.Failure);

        // The orders benchmark ran before (stuck: every request waited for the pool) and after: faster, so no regression.
        await using var db = host.CreateDb();
        var run = await db.BenchmarkRuns.SingleAsync(b => b.MissionId == mission.Id);
        Assert.Equal("orders", run.Benchmark);
        Assert.False(run.Regression);
        Assert.True(run.EffectSize < 0, $"effect {run.EffectSize:P0}: the reset should make orders faster");
    }

    [Fact]
    public async Task Faults_refuse_targets_they_cannot_break_and_name_what_is_missing()
    {
        await using var host = Host(enabled: true);
        var injector = host.Get<FaultInjector>();
        var postgres = await Assert.ThrowsAsync<MissionOperationException>(() => injector.InjectAsync(LockHoldFault.Kind, "demo-postgres", 1, Admin, default));
        Assert.Contains("Grace:Targets:demo-postgres:ConnectionString", postgres.Message);
        var foreign = await Assert.ThrowsAsync<MissionOperationException>(() => injector.InjectAsync(HealthEndpointFault.Kind, "grace", 1, Admin, default));
        Assert.Contains("does not apply", foreign.Message);

        // A signal for the unconfigured target still becomes a mission, blocked with the setting to give. It comes
        // in-process, as the health checker's would: "health:" is reserved, so no API key may send it (issue 13).
        Assert.True(host.Get<ISignalSink>().TryWrite(new Signal("health:demo-postgres", "Health check postgres.blocked-sessions of demo-postgres failed",
            Severity.Error, DateTimeOffset.UtcNow, Target: "demo-postgres", ReportedBy: "engine")));
        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "end-demo-postgres-blockers" && m.CompletedAt != null, "finished", 30);
        Assert.Equal(MissionState.Blocked, mission.State);
        Assert.Contains(mission.Events, e => e.Message.Contains("set Grace:Targets:demo-postgres:ConnectionString", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_crashed_worker_is_restarted_by_the_shipped_playbook_and_only_once()
    {
        await using var host = Host(enabled: true);
        var supervisor = host.Get<ProcessSupervisor>();
        var crashed = supervisor.ProcessOf("demo-worker")!.Id;
        Assert.Contains("Killed pid", await host.Get<FaultInjector>().InjectAsync(ProcessCrashFault.Kind, "demo-worker", 1, Admin, default));

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "restart-demo-worker" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.NotEqual(crashed, supervisor.ProcessOf("demo-worker")!.Id);

        // The exit is reported at once and the health check waits for three failures: no second mission (a cooldown refusal) adds noise.
        // Wait until the check has seen the restarted worker healthy, then until every signal sent before that is captured.
        var monitor = host.Get<HealthChecker>();
        await host.WaitUntilAsync(_ => Task.FromResult(monitor.StatusOf("demo-worker") is { Healthy: true } status && status.CheckedAt > mission.CompletedAt));
        await CapturedSoFarAsync(host);
        await using var db = host.CreateDb();
        Assert.Equal(1, await db.Missions.CountAsync(m => m.PlaybookKey == "restart-demo-worker"));
        Assert.Empty(await db.Incidents.Where(i => i.Source == "health:demo-worker").Select(i => i.SampleMessage).ToListAsync());
    }

    /// <summary>Signals are captured in order: once a marker sent now has its incident, every signal before it has been folded and planned.</summary>
    private static async Task CapturedSoFarAsync(GraceHost host)
    {
        var marker = $"capture marker {Guid.NewGuid():N}";
        using var client = host.IngestClient();
        (await client.PostAsJsonAsync("/api/signals", new { source = "test-marker", message = marker })).EnsureSuccessStatusCode();
        await host.WaitForIncidentAsync(i => i.SampleMessage == marker);
    }

    [Fact]
    public async Task A_filled_cache_waits_for_an_operator_and_is_cleared_once_approved()
    {
        await using var host = Host(enabled: true);
        var result = await host.Get<FaultInjector>().InjectAsync(CacheFillFault.Kind, "grace-cache", 60, Admin, default);
        Assert.Contains("Wrote 60 MiB", result);

        // Clearing a cache is tier 2 in the shipped catalog: nothing moves until someone approves.
        var waiting = await host.WaitForMissionAsync(m => m.PlaybookKey == "clear-grace-cache" && m.State == MissionState.AwaitingApproval, "awaiting approval", 60);
        Assert.Equal(60L * 1024 * 1024, CacheDirectoryExecutor.DirectoryBytes(Folder.Combine("cache-root", "grace")));
        await host.Get<Grace.Engine.Gate.ApprovalService>().DecideAsync(waiting.Id, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default);

        var mission = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.Equal(0, CacheDirectoryExecutor.DirectoryBytes(Folder.Combine("cache-root", "grace")));
    }

    [Fact]
    public async Task A_fresh_start_raises_no_incident_from_the_demo_targets()
    {
        // Health checks start once every hosted service has: the demo service and the worker are up by then.
        await using var host = Host(enabled: true);
        var monitor = host.Get<HealthChecker>();
        var catalog = host.Get<Microsoft.Extensions.Options.IOptions<Grace.Engine.Configuration.CatalogOptions>>().Value;
        var checkedTargets = catalog.Targets.Where(t => t.Value.HealthCheck is not null && host.Get<Grace.Engine.Targets.TargetRegistry>().Unconfigured(t.Key) is null).ToList();
        Assert.Contains(checkedTargets, t => t.Key == "demo-worker");

        // Each check has run at least as often as its failure threshold (a failing streak that long would have been a signal), and passes.
        await host.WaitUntilAsync(_ => Task.FromResult(checkedTargets.All(t =>
            monitor.StatusOf(t.Key) is { Healthy: true } status && status.Checks >= t.Value.HealthCheck!.FailureThreshold)), 30);
        await CapturedSoFarAsync(host);
        await using var db = host.CreateDb();
        Assert.Empty(await db.Incidents.Where(i => i.Source != "test-marker").Select(i => i.SampleMessage).ToListAsync());
    }
}
