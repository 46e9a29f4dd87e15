using System.Net;
using System.Net.Http.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Execute;
using Grace.Engine.Adapters.Logging;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Engine.Adapters.Processes;
using Grace.Engine.Targets;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.FeatureManagement;
using Npgsql;
using Serilog.Events;

namespace Grace.Tests.Integration;

/// <summary>
/// Stale consent, through the real host: an approval holds for the state of the target the
/// approvers saw. For each action that can wait for approval and can run here, a mission waits,
/// the target changes, the approval is given, and the mission ends voided with nothing done to the
/// target and the change named on its timeline; the same mission without a change runs.
/// </summary>
public abstract class StaleConsentTests(DatabaseProvider provider) : DatabaseTest(provider)
{
    private static readonly Actor Olivia = new("olivia", [GraceRoles.Operator]);

    private string Cache => Folder.Combine("cache-root", "thumbnails");

    private GraceHost NewHost(Dictionary<string, string?>? extra = null) =>
        new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(extra ?? []), null).Start();

    /// <summary>A tier-2 playbook for a pattern matching <paramref name="message"/>, with its contract.</summary>
    private static Dictionary<string, string?> Playbook(string key, string action, string target, string message, string probe, string comparator, string threshold,
        Dictionary<string, string>? parameters = null, Dictionary<string, string>? probeParameters = null)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Grace:Patterns:{key}:MessageRegex"] = message,
            [$"Grace:Patterns:{key}:Playbooks:0"] = key,
            [$"Grace:Playbooks:{key}:Action"] = action,
            [$"Grace:Playbooks:{key}:Target"] = target,
            [$"Grace:Playbooks:{key}:Tier"] = "2",
            [$"Grace:Playbooks:{key}:Contract:Probe"] = probe,
            [$"Grace:Playbooks:{key}:Contract:Comparator"] = comparator,
            [$"Grace:Playbooks:{key}:Contract:Threshold"] = threshold,
            [$"Grace:Playbooks:{key}:Contract:DeadlineSeconds"] = "15",
        };
        foreach (var (name, value) in parameters ?? [])
        {
            settings[$"Grace:Playbooks:{key}:Parameters:{name}"] = value;
        }

        foreach (var (name, value) in probeParameters ?? [])
        {
            settings[$"Grace:Playbooks:{key}:Contract:Parameters:{name}"] = value;
        }

        return settings;
    }

    private static async Task<Mission> AwaitingApprovalAsync(GraceHost host, string message, string playbook)
    {
        using var client = host.IngestClient();
        (await client.PostAsJsonAsync("/api/signals", new { source = "tests", message })).EnsureSuccessStatusCode();
        return await host.WaitForMissionAsync(m => m.PlaybookKey == playbook && m.State == MissionState.AwaitingApproval, "awaiting approval");
    }

    private static async Task<Mission> ApproveAsync(GraceHost host, Mission waiting)
    {
        Assert.Equal(ApprovalStatus.Approved, await host.Get<ApprovalService>().DecideAsync(waiting.Id, Olivia, ApprovalVerdict.Approve, null, default));
        return await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.CompletedAt != null, "finished");
    }

    /// <summary>The mission ended voided: its approval void, nothing executed, the change on its timeline.</summary>
    private static string AssertVoided(Mission mission)
    {
        Assert.Equal(MissionState.Blocked, mission.State);
        Assert.Equal(ApprovalStatus.Voided, mission.Approval!.Status);
        Assert.Null(mission.ExecutedAt);
        Assert.DoesNotContain(mission.Events, e => e.Kind is "intent" or "executed");
        var voided = Assert.Single(mission.Events, e => e.Kind == "voided");
        Assert.Contains("nothing ran", voided.Message, StringComparison.Ordinal);
        return voided.Message;
    }

    // cache.clear: the entries of a real folder.

    [Fact]
    public async Task Clearing_a_cache_is_voided_when_a_file_was_added_after_the_approval_and_nothing_moves()
    {
        TestCatalog.FillCache(Cache);
        await using var host = NewHost();
        var waiting = await AwaitingApprovalAsync(host, TestCatalog.CacheMessage, "test-clear-cache");

        await File.WriteAllBytesAsync(Path.Combine(Cache, "late.bin"), new byte[100]);
        var done = await ApproveAsync(host, waiting);

        var message = AssertVoided(done);
        Assert.Contains("1 added (late.bin)", message, StringComparison.Ordinal);
        Assert.Contains("20 files in 1 folder, 80 KiB → 21 files in 1 folder, 80 KiB", message, StringComparison.Ordinal);
        Assert.Equal(21, Directory.EnumerateFiles(Cache, "*", SearchOption.AllDirectories).Count());
        Assert.False(Directory.Exists(Folder.Combine("quarantine", waiting.Id.ToString("N"))), "nothing was quarantined");
    }

    [Fact]
    public async Task Clearing_a_cache_is_voided_when_a_file_was_rewritten_with_the_same_size()
    {
        TestCatalog.FillCache(Cache);
        await using var host = NewHost();
        var waiting = await AwaitingApprovalAsync(host, TestCatalog.CacheMessage, "test-clear-cache");

        // Same name, same size, new content: only its modification time tells.
        var rewritten = Path.Combine(Cache, "thumb-0.bin");
        var before = File.GetLastWriteTimeUtc(rewritten);
        await File.WriteAllBytesAsync(rewritten, Enumerable.Repeat((byte)7, 4096).ToArray());
        File.SetLastWriteTimeUtc(rewritten, before.AddSeconds(5));
        var done = await ApproveAsync(host, waiting);

        var message = AssertVoided(done);
        Assert.Contains("1 rewritten (thumb-0.bin)", message, StringComparison.Ordinal);
        Assert.Equal(20, Directory.EnumerateFiles(Cache, "*", SearchOption.AllDirectories).Count());
        Assert.Equal(7, (await File.ReadAllBytesAsync(rewritten))[0]);
    }

    [Fact]
    public async Task Clearing_an_unchanged_cache_runs_once_approved_and_the_card_said_what_the_approval_holds_for()
    {
        TestCatalog.FillCache(Cache);
        await using var host = NewHost();
        var waiting = await AwaitingApprovalAsync(host, TestCatalog.CacheMessage, "test-clear-cache");

        // The approvers' card, as the console serves it.
        using (var admin = host.ClientWithCookie(await host.SignInAsync("admin", TestCatalog.AdminPassword)))
        {
            var page = await admin.GetStringAsync("/approvals");
            Assert.Contains("Approved against", page, StringComparison.Ordinal);
            Assert.Contains("20 files in 1 folder, 80 KiB", page, StringComparison.Ordinal);
        }

        var done = await ApproveAsync(host, waiting);
        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Cache));
    }

    // postgres.end-blockers: the blocking sessions of a real PostgreSQL database.

    private static async Task<(string ConnectionString, Func<Task> Drop)> LockDatabaseAsync()
    {
        var name = $"grace_consent_{Guid.NewGuid():N}";
        await using (var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString))
        {
            await admin.OpenAsync();
            await new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin).ExecuteNonQueryAsync();
        }

        var cs = new NpgsqlConnectionStringBuilder(TestDatabase.PostgresAdminConnectionString) { Database = name, Pooling = false }.ConnectionString;
        await using (var setup = new NpgsqlConnection(cs))
        {
            await setup.OpenAsync();
            await new NpgsqlCommand("CREATE TABLE orders(id int primary key); INSERT INTO orders VALUES (1);", setup).ExecuteNonQueryAsync();
        }

        return (cs, async () =>
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString);
            await admin.OpenAsync();
            await new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", admin).ExecuteNonQueryAsync();
        });
    }

    /// <summary>A session that takes an exclusive lock and goes idle in its transaction, as a stuck job would.</summary>
    private static async Task<NpgsqlConnection> HoldLockAsync(string cs, string application)
    {
        var holder = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(cs) { ApplicationName = application }.ConnectionString);
        await holder.OpenAsync();
        await new NpgsqlCommand("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;", holder).ExecuteNonQueryAsync();
        return holder;
    }

    /// <summary>A session that waits for the lock; the task ends when it gets it.</summary>
    private static async Task<(NpgsqlConnection Connection, Task<object?> Waiting)> WaitForLockAsync(string cs)
    {
        var waiter = new NpgsqlConnection(cs);
        await waiter.OpenAsync();
        var waiting = new NpgsqlCommand("SELECT count(*) FROM orders", waiter) { CommandTimeout = 120 }.ExecuteScalarAsync();
        await WaitForAsync(async () =>
        {
            await using var look = new NpgsqlConnection(cs);
            await look.OpenAsync();
            return Convert.ToInt64(await new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()", look).ExecuteScalarAsync(),
                System.Globalization.CultureInfo.InvariantCulture) > 0;
        });
        return (waiter, waiting);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, int seconds = 15)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(seconds); !await condition(); await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the condition did not hold within {seconds} s");
        }
    }

    private static Dictionary<string, string?> PostgresPlaybook(string cs) => new(Playbook("test-locks", "postgres.end-blockers", "test-pg", "test locks piling up",
        "postgres.blocked-sessions", "LessThanOrEqual", "0", new() { ["MinBlockedSeconds"] = "0" }))
    {
        ["Grace:Targets:test-pg:Kind"] = "Postgres",
        ["Grace:Targets:test-pg:ConnectionString"] = cs,
    };

    private static async Task<int> PidOfAsync(NpgsqlConnection connection) =>
        (int)(await new NpgsqlCommand("SELECT pg_backend_pid()", connection).ExecuteScalarAsync())!;

    [Fact]
    public async Task Ending_blockers_is_voided_when_another_session_blocks_by_then_and_that_session_is_left_alone()
    {
        var (cs, drop) = await LockDatabaseAsync();
        try
        {
            await using var first = await HoldLockAsync(cs, "stuck-job-1");
            var (firstWaiter, firstWaiting) = await WaitForLockAsync(cs);
            await using (firstWaiter)
            {
                await using var host = NewHost(PostgresPlaybook(cs));
                var waiting = await AwaitingApprovalAsync(host, "test locks piling up", "test-locks");
                var firstPid = await PidOfAsync(first);

                // The first job finishes on its own; another one gets stuck the same way before anyone approves.
                await new NpgsqlCommand("COMMIT", first).ExecuteNonQueryAsync();
                Assert.Equal(1L, await firstWaiting.WaitAsync(TimeSpan.FromSeconds(10)));
                await using var second = await HoldLockAsync(cs, "stuck-job-2");
                var (secondWaiter, secondWaiting) = await WaitForLockAsync(cs);
                await using (secondWaiter)
                {
                    var done = await ApproveAsync(host, waiting);

                    var message = AssertVoided(done);
                    Assert.Contains($"no longer blocking: pid {firstPid} (stuck-job-1", message, StringComparison.Ordinal);
                    Assert.Contains($"now blocking: pid {await PidOfAsync(second)} (stuck-job-2", message, StringComparison.Ordinal);
                    // The session nobody approved ending is still there, still holding its lock.
                    Assert.Equal(1, await new NpgsqlCommand("SELECT 1", second).ExecuteScalarAsync());
                    Assert.False(secondWaiting.IsCompleted);
                    await new NpgsqlCommand("COMMIT", second).ExecuteNonQueryAsync();
                    await secondWaiting.WaitAsync(TimeSpan.FromSeconds(10));
                }
            }
        }
        finally
        {
            await drop();
        }
    }

    [Fact]
    public async Task Ending_the_same_blocker_the_approvers_saw_runs_once_approved()
    {
        var (cs, drop) = await LockDatabaseAsync();
        try
        {
            var blocker = await HoldLockAsync(cs, "stuck-job-1");
            var (waiter, waitingForLock) = await WaitForLockAsync(cs);
            await using (waiter)
            {
                await using var host = NewHost(PostgresPlaybook(cs));
                var waiting = await AwaitingApprovalAsync(host, "test locks piling up", "test-locks");
                var done = await ApproveAsync(host, waiting);

                Assert.Equal(MissionState.Succeeded, done.State);
                Assert.Contains(done.Events, e => e.Kind == "executed" && e.Message.Contains("Ended 1 blocking session", StringComparison.Ordinal));
                Assert.Equal(1L, await waitingForLock.WaitAsync(TimeSpan.FromSeconds(10)));
                await Assert.ThrowsAnyAsync<Exception>(() => new NpgsqlCommand("SELECT 1", blocker).ExecuteScalarAsync());
                await blocker.DisposeAsync();
            }
        }
        finally
        {
            await drop();
        }
    }

    // process.restart: a real supervised process.

    private static Dictionary<string, string?> WorkerPlaybook() => new(Playbook("test-restart", "process.restart", "worker", "test worker stuck",
        "process.alive", "Equal", "1", new() { ["StopTimeoutSeconds"] = "2", ["SettleSeconds"] = "0.5" }))
    {
        ["Grace:Targets:worker:Kind"] = "Process",
        ["Grace:Targets:worker:Command"] = "/bin/sh",
        ["Grace:Targets:worker:Arguments:0"] = "-c",
        ["Grace:Targets:worker:Arguments:1"] = "while true; do echo working; sleep 0.2; done",
    };

    [Fact]
    public async Task A_restart_is_voided_when_someone_else_restarted_the_process_and_the_new_one_is_left_running()
    {
        await using var host = NewHost(WorkerPlaybook());
        var supervisor = host.Get<ProcessSupervisor>();
        var seen = supervisor.ProcessOf("worker")!.Id;
        var waiting = await AwaitingApprovalAsync(host, "test worker stuck", "test-restart");

        // Someone restarts the worker by hand before the approval.
        await supervisor.StopAsync("worker", TimeSpan.FromSeconds(2), default);
        var replacement = supervisor.Start("worker", host.Get<TargetRegistry>().Resolve("worker").Settings<ProcessTarget>());
        var done = await ApproveAsync(host, waiting);

        var message = AssertVoided(done);
        Assert.Contains($"pid {seen}", message, StringComparison.Ordinal);
        Assert.Contains($"→ pid {replacement.Id}", message, StringComparison.Ordinal);
        Assert.Equal(replacement.Id, supervisor.ProcessOf("worker")?.Id);
        Assert.False(replacement.HasExited);
    }

    [Fact]
    public async Task A_restart_of_the_process_the_approvers_saw_runs_once_approved()
    {
        await using var host = NewHost(WorkerPlaybook());
        var supervisor = host.Get<ProcessSupervisor>();
        var seen = supervisor.ProcessOf("worker")!;
        var waiting = await AwaitingApprovalAsync(host, "test worker stuck", "test-restart");
        var done = await ApproveAsync(host, waiting);

        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.True(seen.HasExited);
        Assert.NotEqual(seen.Id, supervisor.ProcessOf("worker")!.Id);
    }

    // feature-flag.set: a flag held in Grace's database.

    private static Dictionary<string, string?> FlagPlaybook() => new(Playbook("test-flag", "feature-flag.set", "grace", "test checkout broken",
        "feature-flag.enabled", "Equal", "0", new() { ["Flag"] = "NewCheckout", ["Enabled"] = "false" }, new() { ["Flag"] = "NewCheckout" }))
    {
        ["FeatureManagement:NewCheckout"] = "true",
    };

    private static async Task<EngineSetting?> FlagRowAsync(GraceHost host)
    {
        await using var db = host.CreateDb();
        return await db.EngineSettings.AsNoTracking().SingleOrDefaultAsync(s => s.Key == "feature-flag:NewCheckout");
    }

    [Fact]
    public async Task Setting_a_flag_is_voided_when_someone_changed_it_after_the_approval_and_their_setting_stays()
    {
        await using var host = NewHost(FlagPlaybook());
        var waiting = await AwaitingApprovalAsync(host, "test checkout broken", "test-flag");

        await host.Get<FeatureFlagOverrides>().SetAsync("NewCheckout", false, "lena", default);
        var done = await ApproveAsync(host, waiting);

        var message = AssertVoided(done);
        Assert.Contains("flag 'NewCheckout' was turned off since the approvers saw it on", message, StringComparison.Ordinal);
        Assert.Equal("lena", (await FlagRowAsync(host))!.UpdatedBy);
    }

    [Fact]
    public async Task Setting_an_unchanged_flag_runs_once_approved()
    {
        await using var host = NewHost(FlagPlaybook());
        var waiting = await AwaitingApprovalAsync(host, "test checkout broken", "test-flag");
        var done = await ApproveAsync(host, waiting);

        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.False(await host.Get<IFeatureManager>().IsEnabledAsync("NewCheckout"));
        Assert.Equal($"mission/{waiting.Id}", (await FlagRowAsync(host))!.UpdatedBy);
    }

    // logging.set-level: a real Serilog level switch.

    private static Dictionary<string, string?> LevelPlaybook() => Playbook("test-level", "logging.set-level", "grace", "test tracing needed",
        "logging.level", "Equal", "1", new() { ["Source"] = "Grace.Web", ["Level"] = "Debug" }, new() { ["Source"] = "Grace.Web" });

    [Fact]
    public async Task Setting_a_level_is_voided_when_someone_changed_it_after_the_approval_and_their_level_stays()
    {
        await using var host = NewHost(LevelPlaybook());
        var levels = host.Get<LogLevelController>();
        var seen = levels.GetLevel("Grace.Web");
        Assert.NotEqual(LogEventLevel.Warning, seen);
        var waiting = await AwaitingApprovalAsync(host, "test tracing needed", "test-level");

        levels.SetLevel("Grace.Web", LogEventLevel.Warning);
        var done = await ApproveAsync(host, waiting);

        var message = AssertVoided(done);
        Assert.Contains($"log source 'Grace.Web' was set to Warning since the approvers saw it at {seen}", message, StringComparison.Ordinal);
        Assert.Equal(LogEventLevel.Warning, levels.GetLevel("Grace.Web"));
    }

    [Fact]
    public async Task Setting_an_unchanged_level_runs_once_approved()
    {
        await using var host = NewHost(LevelPlaybook());
        var waiting = await AwaitingApprovalAsync(host, "test tracing needed", "test-level");
        var done = await ApproveAsync(host, waiting);

        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Equal(LogEventLevel.Debug, host.Get<LogLevelController>().GetLevel("Grace.Web"));
    }

    // http.call: an admin endpoint of a real HTTP service on loopback, whose health the approvers saw.

    private sealed class PoolService : IAsyncDisposable
    {
        private WebApplication _app = null!;
        private int _resets;

        public volatile bool Healthy = true;

        public int Resets => Volatile.Read(ref _resets);

        public string Url { get; private set; } = "";

        public static async Task<PoolService> StartAsync()
        {
            var service = new PoolService();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            service._app = builder.Build();
            service._app.MapGet("/health", () => service.Healthy ? Results.Ok() : Results.StatusCode(503));
            service._app.MapPost("/admin/reset-pool", () =>
            {
                Interlocked.Increment(ref service._resets);
                service.Healthy = true;
                return Results.Ok();
            });
            await service._app.StartAsync();
            service.Url = service._app.Urls.First();
            return service;
        }

        public ValueTask DisposeAsync() => _app.DisposeAsync();
    }

    private static Dictionary<string, string?> HttpPlaybook(string url) => new(Playbook("test-reset", "http.call", "pool-api", "test pool exhausted",
        "http.status", "LessThan", "400", new() { ["Method"] = "POST", ["Path"] = "/admin/reset-pool" }, new() { ["Path"] = "/health" }))
    {
        ["Grace:Targets:pool-api:Kind"] = "Http",
        ["Grace:Targets:pool-api:Url"] = url,
        // The health path is what the approvers' snapshot reads; the check itself runs once, at the start, while the service is healthy.
        ["Grace:Targets:pool-api:HealthCheck:Probe"] = "http.status",
        ["Grace:Targets:pool-api:HealthCheck:Parameters:Path"] = "/health",
        ["Grace:Targets:pool-api:HealthCheck:IntervalSeconds"] = "3600",
    };

    [Fact]
    public async Task A_call_is_voided_when_the_service_recovered_after_the_approval_and_the_endpoint_is_never_called()
    {
        await using var service = await PoolService.StartAsync();
        await using var host = NewHost(HttpPlaybook(service.Url));
        service.Healthy = false;
        var waiting = await AwaitingApprovalAsync(host, "test pool exhausted", "test-reset");

        service.Healthy = true;
        var done = await ApproveAsync(host, waiting);

        var message = AssertVoided(done);
        Assert.Contains("the service's health changed from failing to healthy", message, StringComparison.Ordinal);
        Assert.Equal(0, service.Resets);
    }

    [Fact]
    public async Task A_call_against_the_health_the_approvers_saw_runs_once_approved()
    {
        await using var service = await PoolService.StartAsync();
        await using var host = NewHost(HttpPlaybook(service.Url));
        service.Healthy = false;
        var waiting = await AwaitingApprovalAsync(host, "test pool exhausted", "test-reset");
        var done = await ApproveAsync(host, waiting);

        Assert.Equal(MissionState.Succeeded, done.State);
        Assert.Equal(1, service.Resets);
    }
}

public sealed class SqliteStaleConsentTests() : StaleConsentTests(DatabaseProvider.Sqlite);

public sealed class PostgresStaleConsentTests() : StaleConsentTests(DatabaseProvider.Postgres);
