using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Grace.Data.Entities;
using Grace.Engine.Execute;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Polly.CircuitBreaker;
using Serilog.Core;
using Serilog.Events;

namespace Grace.Tests.Integration;

/// <summary>Storm control end to end: a capped fingerprint that fires again starts nothing, counts, and says so on the API, the Overview and in the log.</summary>
public sealed class StormControlEndToEndTests : SqliteDatabaseTest
{
    private sealed class CapturingSink : ILogEventSink
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public void Emit(LogEvent logEvent) => Lines.Enqueue(logEvent.RenderMessage());
    }

    [Fact]
    public async Task A_resolved_fingerprint_that_fires_again_past_its_hourly_cap_starts_no_mission_and_the_held_back_start_is_counted()
    {
        var appDb = Folder.Combine("app.db");
        using var holder = TestCatalog.GrowWal(appDb);
        var logs = new CapturingSink();
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Engine:MaxMissionStartsPerFingerprintPerHour"] = "1",
            ["Grace:Playbooks:test-checkpoint:CooldownSeconds"] = "0",
        }), s => s.AddSingleton<ILogEventSink>(logs)).Start();
        using var ingest = host.IngestClient();
        using var admin = host.ClientWithCookie(await host.SignInAsync("admin", TestCatalog.AdminPassword));

        (await ingest.PostAsJsonAsync("/api/signals", new { source = "orders-api", message = TestCatalog.WalMessage })).EnsureSuccessStatusCode();
        var first = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.Stage == PipelineStage.Learn, "learned");
        Assert.Equal(MissionState.Succeeded, first.State);
        await host.WaitForIncidentAsync(i => i.Id == first.IncidentId && i.Status == IncidentStatus.Resolved);

        // The same fault again: the incident reopens, but its fingerprint has had its one start this hour.
        (await ingest.PostAsJsonAsync("/api/signals", new { source = "orders-api", message = TestCatalog.WalMessage })).EnsureSuccessStatusCode();
        var heldBack = 0L;
        for (var deadline = DateTime.UtcNow.AddSeconds(15); heldBack == 0; await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, "storm control never held a start back");
            heldBack = (await admin.GetFromJsonAsync<JsonElement>("/api/capture/stats")).GetProperty("stormSuppressed").GetInt64();
        }

        Assert.Equal(1, heldBack);
        await using (var db = host.CreateDb())
        {
            Assert.Equal(first.Id, Assert.Single(await db.Missions.Where(m => m.PlaybookKey == "test-checkpoint").ToListAsync()).Id);
            var incident = await db.Incidents.SingleAsync(i => i.Id == first.IncidentId);
            Assert.Equal(2, incident.Count);
            Assert.Equal(1, incident.Reopened);
            Assert.Equal(IncidentStatus.Open, incident.Status);
        }

        // The outcome behind the Learning page, as its CSV export gives it.
        var csv = await admin.GetStringAsync("/api/outcomes.csv?days=1");
        Assert.Contains(csv.Split('\n'), line => line.Contains(first.Id.ToString(), StringComparison.Ordinal) && line.Contains(",test-checkpoint,test-db,Succeeded,true,false,", StringComparison.Ordinal));

        var overview = await admin.GetStringAsync("/");
        Assert.Contains("<span id=\"capture-held-back\">1 mission starts held back by storm control</span>", overview, StringComparison.Ordinal);
        Assert.Contains(logs.Lines, l => l.Contains("Storm control held back a mission", StringComparison.Ordinal) && l.Contains("MaxMissionStartsPerFingerprintPerHour", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_burst_of_new_errors_no_pattern_plans_does_not_use_up_the_minutes_mission_starts()
    {
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Engine:MaxMissionStartsPerMinute"] = "3",
        })).Start();
        using var ingest = host.IngestClient();
        using var admin = host.ClientWithCookie(await host.SignInAsync("admin", TestCatalog.AdminPassword));

        // Ten new errors a bad deploy might bring, none of which a pattern plans: each is an incident, none starts a mission.
        var burst = Enumerable.Range(0, 10).Select(i => new { source = "deploy-burst", message = $"Step failed after {i} ms", exceptionType = $"Burst.Kind{i}Exception" }).ToArray();
        (await ingest.PostAsJsonAsync("/api/signals", burst)).EnsureSuccessStatusCode();
        await host.WaitUntilAsync(async db => await db.Incidents.CountAsync(i => i.Source == "deploy-burst" && !i.PlanPending) == 10, timeoutSeconds: 20);

        // Then the fault a playbook heals, within the same minute: its mission starts.
        (await ingest.PostAsJsonAsync("/api/signals", new { source = "orders-api", message = TestCatalog.CacheMessage })).EnsureSuccessStatusCode();
        var incident = await host.WaitForIncidentAsync(i => i.Source == "orders-api");
        await host.WaitUntilAsync(db => db.Missions.AnyAsync(m => m.IncidentId == incident.Id), timeoutSeconds: 20);
        Assert.Equal(0, (await admin.GetFromJsonAsync<JsonElement>("/api/capture/stats")).GetProperty("stormSuppressed").GetInt64());
        await using var check = host.CreateDb();
        Assert.Equal(0, await check.Incidents.Where(i => i.Source == "deploy-burst").SumAsync(i => i.HeldBackStarts));
        Assert.False(await check.Missions.AnyAsync(m => check.Incidents.Any(i => i.Id == m.IncidentId && i.Source == "deploy-burst")));
    }
}

/// <summary>Diagnosis ranks a pattern's playbooks by what Grace learned about them, then by their configured order.</summary>
public sealed class PlaybookRankingTests : SqliteDatabaseTest
{
    [Fact]
    public async Task The_playbook_with_the_higher_learned_confidence_is_chosen_over_the_first_configured()
    {
        var settings = TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Patterns:test-rank:MessageRegex"] = "test checkout slow",
            ["Grace:Patterns:test-rank:Playbooks:0"] = "rank-first",
            ["Grace:Patterns:test-rank:Playbooks:1"] = "rank-second",
        });
        foreach (var (key, level) in new[] { ("rank-first", "Debug"), ("rank-second", "Verbose") })
        {
            settings = settings.Concat(new Dictionary<string, string?>
            {
                [$"Grace:Playbooks:{key}:Action"] = "logging.set-level",
                [$"Grace:Playbooks:{key}:Target"] = "grace",
                [$"Grace:Playbooks:{key}:Tier"] = "2",
                [$"Grace:Playbooks:{key}:Parameters:Source"] = "Grace.Web",
                [$"Grace:Playbooks:{key}:Parameters:Level"] = level,
                [$"Grace:Playbooks:{key}:Contract:Probe"] = "logging.level",
                [$"Grace:Playbooks:{key}:Contract:Parameters:Source"] = "Grace.Web",
                [$"Grace:Playbooks:{key}:Contract:Comparator"] = "LessThanOrEqual",
                [$"Grace:Playbooks:{key}:Contract:Threshold"] = "1",
                [$"Grace:Playbooks:{key}:Contract:DeadlineSeconds"] = "5",
            });
        }

        await using var host = new GraceHost(settings).Start();
        using var ingest = host.IngestClient();

        // Nothing learned yet: the configured order decides.
        (await ingest.PostAsJsonAsync("/api/signals", new { source = "checkout", message = "test checkout slow on node 1" })).EnsureSuccessStatusCode();
        var untaught = await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        Assert.Equal("rank-first", untaught.PlaybookKey);
        await host.Get<ApprovalService>().DecideAsync(untaught.Id, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Reject, "testing the ranking", default);
        await host.WaitForMissionAsync(m => m.Id == untaught.Id && m.Stage == PipelineStage.Learn, "learned");

        // What the Learn stage keeps: the second playbook has earned more confidence on this pattern.
        await using (var db = host.CreateDb())
        {
            foreach (var (key, successes) in new[] { ("rank-first", 1), ("rank-second", 5) })
            {
                var stats = await db.PlaybookStatistics.SingleOrDefaultAsync(s => s.PatternKey == "test-rank" && s.PlaybookKey == key);
                if (stats is null)
                {
                    stats = new PlaybookStatistics { PatternKey = "test-rank", PlaybookKey = key };
                    db.PlaybookStatistics.Add(stats);
                }

                stats.Runs = 5;
                stats.Successes = successes;
                stats.SuccessRate = successes / 5.0;
                stats.Confidence = Grace.Engine.Learn.LearningService.WilsonLowerBound(successes, 5);
            }

            await db.SaveChangesAsync();
        }

        (await ingest.PostAsJsonAsync("/api/signals", new { source = "checkout", message = "test checkout slow: another fingerprint", exceptionType = "TimeoutException" })).EnsureSuccessStatusCode();
        var taught = await host.WaitForMissionAsync(m => m.Id != untaught.Id && m.State == MissionState.AwaitingApproval, "awaiting approval");
        Assert.Equal("rank-second", taught.PlaybookKey);
        var diagnosed = Assert.Single(taught.Events, e => e.Kind == "diagnosed").Message;
        Assert.Matches(@"ranked by learned confidence: rank-second \(57\s?%\), rank-first \(4\s?%\)", diagnosed);
    }
}

/// <summary>The Polly pipelines of actions, through real missions against a real HTTP service: what is retried, and what a rollback goes past.</summary>
public sealed class ActionResilienceTests : SqliteDatabaseTest
{
    /// <summary>An admin service on loopback that answers each path with a scripted sequence of statuses, counting calls.</summary>
    private sealed class ScriptedService : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<string, int> _calls = new();
        private WebApplication _app = null!;

        /// <summary>In a script: take the request and never answer.</summary>
        public const int Hang = -1;

        public string Url { get; private set; } = "";

        public int Calls(string path) => _calls.GetValueOrDefault(path);

        public static async Task<ScriptedService> StartAsync(Dictionary<string, int[]> script)
        {
            var service = new ScriptedService();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            service._app = builder.Build();
            service._app.MapGet("/health", () => Results.Ok());
            foreach (var (path, statuses) in script)
            {
                service._app.MapPost(path, async (HttpContext context) =>
                {
                    var call = service._calls.AddOrUpdate(path, 1, (_, n) => n + 1);
                    var status = statuses[Math.Min(call, statuses.Length) - 1];
                    if (status == Hang)
                    {
                        // A service that takes the request and never answers.
                        await Task.Delay(TimeSpan.FromMinutes(1), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                        status = 504;
                    }

                    return Results.StatusCode(status);
                });
            }

            await service._app.StartAsync();
            service.Url = service._app.Urls.First();
            return service;
        }

        public ValueTask DisposeAsync() => _app.DisposeAsync();
    }

    private GraceHost Host(string url, params (string Key, string Path, string? RollbackPath)[] playbooks) => Host(url, [], playbooks);

    private GraceHost Host(string url, Dictionary<string, string?> extra, params (string Key, string Path, string? RollbackPath)[] playbooks)
    {
        var settings = TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(extra).ToDictionary(kv => kv.Key, kv => kv.Value);
        settings["Grace:Targets:admin-api:Kind"] = "Http";
        settings["Grace:Targets:admin-api:Url"] = url;
        foreach (var (key, path, rollback) in playbooks)
        {
            settings[$"Grace:Patterns:{key}:MessageRegex"] = $"{key} needed";
            settings[$"Grace:Patterns:{key}:Playbooks:0"] = key;
            settings[$"Grace:Playbooks:{key}:Action"] = "http.call";
            settings[$"Grace:Playbooks:{key}:Target"] = "admin-api";
            settings[$"Grace:Playbooks:{key}:Tier"] = "0";
            settings[$"Grace:Playbooks:{key}:Parameters:Path"] = path;
            if (rollback is not null)
            {
                settings[$"Grace:Playbooks:{key}:Parameters:RollbackPath"] = rollback;
            }

            settings[$"Grace:Playbooks:{key}:Contract:Probe"] = "http.status";
            settings[$"Grace:Playbooks:{key}:Contract:Parameters:Path"] = "/health";
            settings[$"Grace:Playbooks:{key}:Contract:Comparator"] = "LessThan";
            settings[$"Grace:Playbooks:{key}:Contract:Threshold"] = "400";
            settings[$"Grace:Playbooks:{key}:Contract:DeadlineSeconds"] = "5";
        }

        return new GraceHost(settings).Start();
    }

    private static async Task<Mission> RunAsync(GraceHost host, string key)
    {
        using var ingest = host.IngestClient();
        (await ingest.PostAsJsonAsync("/api/signals", new { source = "tests", message = $"{key} needed" })).EnsureSuccessStatusCode();
        return await host.WaitForMissionAsync(m => m.PlaybookKey == key && m.CompletedAt != null, "finished", 30);
    }

    [Fact]
    public async Task A_transient_failure_is_retried_until_it_passes_and_a_refusal_is_not_retried()
    {
        await using var service = await ScriptedService.StartAsync(new()
        {
            ["/admin/flaky"] = [503, 503, 200],
            ["/admin/missing"] = [404],
        });
        await using var host = Host(service.Url, ("test-flaky", "/admin/flaky", null), ("test-missing", "/admin/missing", null));

        var flaky = await RunAsync(host, "test-flaky");
        Assert.Equal(MissionState.Succeeded, flaky.State);
        Assert.Equal(3, service.Calls("/admin/flaky"));

        var missing = await RunAsync(host, "test-missing");
        Assert.Contains(missing.Events, e => e.Kind == "refused" && e.Message.Contains("answered 404", StringComparison.Ordinal));
        Assert.Equal(1, service.Calls("/admin/missing"));
    }

    [Fact]
    public async Task An_action_that_does_not_answer_is_cut_off_by_the_action_timeout_and_not_retried()
    {
        await using var service = await ScriptedService.StartAsync(new() { ["/admin/hang"] = [ScriptedService.Hang] });
        await using var host = Host(service.Url, new Dictionary<string, string?>
        {
            ["Grace:Engine:ActionTimeoutSeconds"] = "2",
            // The shipped restart must fit in the shorter action timeout to pass validation.
            ["Grace:Playbooks:restart-demo-worker:Parameters:StopTimeoutSeconds"] = "0.5",
            ["Grace:Playbooks:restart-demo-worker:Parameters:HealthTimeoutSeconds"] = "1",
        }, ("test-hang", "/admin/hang", null));

        var mission = await RunAsync(host, "test-hang");

        Assert.Contains(mission.Events, e => e.Kind == "failed" && e.Message.Contains("timeout of '00:00:02'", StringComparison.Ordinal));
        Assert.Null(mission.Contract!.VerifiedAt);
        Assert.Equal(1, service.Calls("/admin/hang"));
    }

    [Fact]
    public async Task A_rollback_runs_past_the_breaker_the_failed_action_opened()
    {
        await using var service = await ScriptedService.StartAsync(new()
        {
            ["/admin/reset"] = [500],
            ["/admin/undo"] = [200],
        });
        await using var host = Host(service.Url, ("test-broken", "/admin/reset", "/admin/undo"));

        var mission = await RunAsync(host, "test-broken");

        // Four attempts (one and three retries) failed, which opens the target's breaker...
        Assert.Equal(4, service.Calls("/admin/reset"));
        Assert.True(host.Get<ActionResilience>().TryGetBreaker("admin-api", out var breaker, out _));
        Assert.Equal(CircuitState.Open, breaker.CircuitState);
        await Assert.ThrowsAsync<BrokenCircuitException>(() => host.Get<ActionResilience>().ForAction("admin-api").ExecuteAsync(_ => ValueTask.CompletedTask).AsTask());
        // ...and the rollback still reached the service.
        Assert.Equal(1, service.Calls("/admin/undo"));
        Assert.Equal(MissionState.RolledBack, mission.State);
        Assert.Contains(mission.Events, e => e.Kind == "rolled-back");
    }
}

/// <summary>What the README's first example promises: its exact signal is healed by the shipped catalog.</summary>
public sealed class ReadmeExampleTests : SqliteDatabaseTest
{
    [Fact]
    public async Task The_readme_signal_checkpoints_graces_own_wal_at_tier0_and_verifies_it()
    {
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings())).Start();
        using var client = host.IngestClient();
        using var body = new StringContent(
            """{"source":"orders-api","message":"SQLite Error 5: database is locked","exceptionType":"Microsoft.Data.Sqlite.SqliteException"}""",
            System.Text.Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/api/signals", body)).StatusCode);

        var mission = await host.WaitForMissionAsync(m => m.CompletedAt != null, "finished");
        Assert.Equal("sqlite-busy", mission.PatternKey);
        Assert.Equal("checkpoint-grace-db", mission.PlaybookKey);
        Assert.Equal(0, mission.Tier);
        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.Equal("sqlite.wal-bytes", mission.Contract!.Probe);
        Assert.True(mission.Contract.ObservedValue < 1024 * 1024);
    }
}

/// <summary>An unknown API key leaves a warning in the log, never the key.</summary>
public sealed class UnknownApiKeyTests : SqliteDatabaseTest
{
    private sealed class CapturingSink : ILogEventSink
    {
        public ConcurrentQueue<LogEvent> Events { get; } = new();

        public void Emit(LogEvent logEvent) => Events.Enqueue(logEvent);
    }

    [Fact]
    public async Task An_unknown_key_is_logged_as_a_warning_without_the_key()
    {
        const string secret = "notarealsecretatallbutlong";
        var logs = new CapturingSink();
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()), s => s.AddSingleton<ILogEventSink>(logs)).Start();
        using var client = host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", $"grace_deadbeef_{secret}");

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsJsonAsync("/api/signals", new { source = "x", message = "y" })).StatusCode);

        Assert.Contains(logs.Events, e => e.Level == LogEventLevel.Warning && e.RenderMessage().Contains("An unknown API key was presented", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Events, e => (e.RenderMessage() + e.Exception).Contains(secret, StringComparison.Ordinal));
    }
}

/// <summary>The fault demo is on where people try Grace out (Development) and off elsewhere unless turned on; its service listens on loopback only.</summary>
public sealed class FaultDefaultsTests : SqliteDatabaseTest
{
    [Fact]
    public async Task The_demo_service_refuses_a_url_that_is_not_loopback()
    {
        var port = TestCatalog.FreeLoopbackPort();
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Where(kv => kv.Key != "Grace:Targets:demo-orders-api:Url").Concat(Database.Settings())
            .Append(new("Grace:Targets:demo-orders-api:Url", $"http://0.0.0.0:{port}/"))).Start();
        Assert.False(host.Get<Grace.Engine.Faults.DemoService>().IsListening);
        using var probe = new System.Net.Sockets.TcpClient();
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, port));
    }

    [Theory]
    [InlineData("Development", true)]
    [InlineData("Production", false)]
    public async Task Faults_are_on_by_default_in_development_only(string environment, bool enabled)
    {
        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()), null, environment).Start();
        Assert.Equal(enabled, host.Get<Grace.Engine.Faults.FaultInjector>().Enabled);
        using var admin = host.ClientWithCookie(await host.SignInAsync("admin", TestCatalog.AdminPassword));
        Assert.Equal(enabled ? HttpStatusCode.OK : HttpStatusCode.NotFound, (await admin.GetAsync("/api/faults")).StatusCode);
    }
}
