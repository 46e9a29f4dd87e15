using System.Net.Http.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Grace.Tests.Integration;

/// <summary>Executors against real counterparts: an HTTP service on loopback and the PostgreSQL server of the test setup.</summary>
public sealed class RemoteExecutorTests : IAsyncLifetime
{
    private WebApplication _service = null!;
    private string _url = "";
    private int _flushes;
    private int _unflushes;
    private volatile bool _healthy = true;
    private readonly IHttpClientFactory _http = new ServiceCollection().AddHttpClient().BuildServiceProvider().GetRequiredService<IHttpClientFactory>();

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _service = builder.Build();
        _service.MapGet("/", () => Results.Ok());
        _service.MapGet("/health", () => _healthy ? Results.Ok() : Results.StatusCode(503));
        _service.MapGet("/slow", async () =>
        {
            await Task.Delay(150);
            return Results.Ok();
        });
        _service.MapPost("/admin/cache/flush", () => { Interlocked.Increment(ref _flushes); return Results.Ok(new { flushed = true }); });
        _service.MapPost("/admin/cache/unflush", () => { Interlocked.Increment(ref _unflushes); return Results.Ok(); });
        _service.MapPost("/admin/broken", () => Results.StatusCode(404));
        await _service.StartAsync();
        _url = _service.Urls.First();
    }

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task An_http_call_reaches_the_admin_endpoint_and_its_undo_call_too()
    {
        var executor = new HttpCallExecutor(_http);
        var target = TestTargets.Http("stock-api", _url);
        var request = new ActionRequest(Guid.NewGuid(), target, new Dictionary<string, string>
        {
            ["Method"] = "POST", ["Path"] = "/admin/cache/flush", ["Body"] = "{\"scope\":\"all\"}", ["RollbackPath"] = "/admin/cache/unflush",
        });
        var snapshot = await executor.SnapshotAsync(request, default);
        Assert.Contains("answered 200", snapshot.Summary);
        var result = await executor.ExecuteAsync(request, snapshot, default);
        Assert.Contains("answered 200", result.Message);
        Assert.Equal(1, _flushes);
        await executor.RollbackAsync(request, snapshot, default);
        Assert.Equal(1, _unflushes);

        var refused = request with { Parameters = new Dictionary<string, string> { ["Path"] = "/admin/broken" } };
        await Assert.ThrowsAsync<ActionRefusedException>(() => executor.ExecuteAsync(refused, snapshot, default));
        Assert.Contains(executor.ValidateParameters(new Dictionary<string, string> { ["Path"] = "no-slash", ["Method"] = "YEET" }), e => e.Contains("Method", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_http_probes_read_status_and_latency_and_a_dead_service_is_no_reading()
    {
        var target = TestTargets.Http("stock-api", _url);
        var status = new HttpStatusProbe(_http);
        var latency = new HttpLatencyProbe(_http);
        var health = new Dictionary<string, string> { ["Path"] = "/health" };
        Assert.Equal(200, await status.ReadAsync(new ProbeRequest(target, health, null), default));
        _healthy = false;
        Assert.Equal(503, await status.ReadAsync(new ProbeRequest(target, health, null), default));
        // The latency is the time the service took: at least the delay it was told to take.
        Assert.True(await latency.ReadAsync(new ProbeRequest(target, new Dictionary<string, string> { ["Path"] = "/slow" }, null), default) >= 150);
        var dead = TestTargets.Http("stock-api", "http://127.0.0.1:9");
        // No answer is not a status: a "< 400" health rule must not take a dead service for a healthy one.
        await Assert.ThrowsAsync<HttpRequestException>(() => status.ReadAsync(new ProbeRequest(dead, health, null), default));
        await Assert.ThrowsAsync<HttpRequestException>(() => latency.ReadAsync(new ProbeRequest(dead, health, null), default));
    }

    [Fact]
    public async Task A_failing_health_check_becomes_an_incident_and_passing_again_resolves_it()
    {
        using var folder = new TempFolder();
        await using var database = await TestDatabase.CreateAsync(Grace.Data.DatabaseProvider.Sqlite, folder);
        var settings = TestCatalog.Settings(folder).Concat(database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:stock-api:Kind"] = "Http",
            ["Grace:Targets:stock-api:Url"] = _url,
            ["Grace:Targets:stock-api:HealthCheck:Probe"] = "http.status",
            ["Grace:Targets:stock-api:HealthCheck:Parameters:Path"] = "/health",
            ["Grace:Targets:stock-api:HealthCheck:Comparator"] = "LessThan",
            ["Grace:Targets:stock-api:HealthCheck:Threshold"] = "400",
            ["Grace:Targets:stock-api:HealthCheck:IntervalSeconds"] = "1",
        });
        await using var host = new GraceHost(settings).Start();
        _healthy = false;
        var incident = await host.WaitForIncidentAsync(i => i.Source == "health:stock-api" && i.Status == Grace.Data.Entities.IncidentStatus.Open);
        Assert.Contains("read 503", incident.SampleMessage);
        _healthy = true;
        await host.WaitForIncidentAsync(i => i.Id == incident.Id && i.Status == Grace.Data.Entities.IncidentStatus.Resolved);
    }

    [Fact]
    public async Task A_health_incident_left_open_at_shutdown_is_resolved_by_the_first_passing_check_after_a_restart()
    {
        using var folder = new TempFolder();
        await using var database = await TestDatabase.CreateAsync(Grace.Data.DatabaseProvider.Sqlite, folder);
        var settings = TestCatalog.Settings(folder).Concat(database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:stock-api:Kind"] = "Http",
            ["Grace:Targets:stock-api:Url"] = _url,
            ["Grace:Targets:stock-api:HealthCheck:Probe"] = "http.status",
            ["Grace:Targets:stock-api:HealthCheck:Parameters:Path"] = "/health",
            ["Grace:Targets:stock-api:HealthCheck:Comparator"] = "LessThan",
            ["Grace:Targets:stock-api:HealthCheck:Threshold"] = "400",
            ["Grace:Targets:stock-api:HealthCheck:IntervalSeconds"] = "1",
        }).ToList();
        Grace.Data.Entities.Incident incident;
        await using (var host = new GraceHost(settings).Start())
        {
            _healthy = false;
            incident = await host.WaitForIncidentAsync(i => i.Source == "health:stock-api" && i.Status == Grace.Data.Entities.IncidentStatus.Open);
        }

        // The service recovers while Grace is down: the failures it counted in memory are gone with it.
        _healthy = true;
        await using var restarted = new GraceHost(settings).Start();
        await restarted.WaitForIncidentAsync(i => i.Id == incident.Id && i.Status == Grace.Data.Entities.IncidentStatus.Resolved);
    }

    [Fact]
    public async Task A_health_check_counts_only_after_its_failure_threshold_of_failed_readings_in_a_row()
    {
        using var folder = new TempFolder();
        await using var database = await TestDatabase.CreateAsync(Grace.Data.DatabaseProvider.Sqlite, folder);
        var settings = TestCatalog.Settings(folder).Concat(database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:stock-api:Kind"] = "Http",
            ["Grace:Targets:stock-api:Url"] = _url,
            ["Grace:Targets:stock-api:HealthCheck:Probe"] = "http.status",
            ["Grace:Targets:stock-api:HealthCheck:Parameters:Path"] = "/health",
            // Two seconds apart, so the marker below is surely sent between the second and the third reading.
            ["Grace:Targets:stock-api:HealthCheck:IntervalSeconds"] = "2",
            ["Grace:Targets:stock-api:HealthCheck:FailureThreshold"] = "3",
        });
        await using var host = new GraceHost(settings).Start();
        var monitor = host.Get<Grace.Engine.Capture.HealthChecker>();
        await host.WaitUntilAsync(_ => Task.FromResult(monitor.StatusOf("stock-api") is { Healthy: true }));
        _healthy = false;

        // Two failed readings in a row are not yet a signal: a marker sent after them is captured, and no incident came first.
        await host.WaitUntilAsync(_ => Task.FromResult(monitor.StatusOf("stock-api") is { FailuresInARow: 2 }));
        using (var client = host.IngestClient())
        {
            (await client.PostAsJsonAsync("/api/signals", new { source = "test-marker", message = "capture marker" })).EnsureSuccessStatusCode();
        }

        await host.WaitForIncidentAsync(i => i.Source == "test-marker");
        await using (var db = host.CreateDb())
        {
            Assert.False(await db.Incidents.AnyAsync(i => i.Source == "health:stock-api"));
        }

        // The third is.
        var incident = await host.WaitForIncidentAsync(i => i.Source == "health:stock-api");
        Assert.True(monitor.StatusOf("stock-api")!.FailuresInARow >= 3);
        Assert.Contains("read 503", incident.SampleMessage);
    }

    [Fact]
    public async Task A_service_that_does_not_answer_fails_its_health_check_and_opens_one_incident_only()
    {
        using var folder = new TempFolder();
        await using var database = await TestDatabase.CreateAsync(Grace.Data.DatabaseProvider.Sqlite, folder);
        var settings = TestCatalog.Settings(folder).Concat(database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Targets:gone-api:Kind"] = "Http",
            ["Grace:Targets:gone-api:Url"] = $"http://127.0.0.1:{TestCatalog.FreeLoopbackPort()}/",
            ["Grace:Targets:gone-api:HealthCheck:Probe"] = "http.status",
            ["Grace:Targets:gone-api:HealthCheck:Parameters:Path"] = "/health",
            ["Grace:Targets:gone-api:HealthCheck:IntervalSeconds"] = "1",
        });
        await using var host = new GraceHost(settings).Start();
        var incident = await host.WaitForIncidentAsync(i => i.Source == "health:gone-api");
        Assert.Contains("Connection refused", incident.SampleMessage);

        // Polly's retries of the probe are not Grace errors: they must not open incidents of their own. Two more failed
        // checks (each retried), then a marker: signals are captured in order, so any error logged before it is an incident by then.
        var monitor = host.Get<Grace.Engine.Capture.HealthChecker>();
        var checks = monitor.StatusOf("gone-api")!.Checks;
        await host.WaitUntilAsync(_ => Task.FromResult(monitor.StatusOf("gone-api")!.Checks >= checks + 2));
        using (var client = host.IngestClient())
        {
            (await client.PostAsJsonAsync("/api/signals", new { source = "test-marker", message = "capture marker" })).EnsureSuccessStatusCode();
        }

        await host.WaitForIncidentAsync(i => i.Source == "test-marker");
        await using var db = host.CreateDb();
        var sources = await db.Incidents.Where(i => i.Source != "test-marker").Select(i => i.Source).ToListAsync();
        Assert.Equal("health:gone-api", Assert.Single(sources));
    }

    [Fact]
    public async Task A_real_blocking_session_is_found_and_ended_and_the_waiter_goes_on()
    {
        var name = $"grace_locks_{Guid.NewGuid():N}";
        await using (var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString))
        {
            await admin.OpenAsync();
            await new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin).ExecuteNonQueryAsync();
        }

        var connectionString = new NpgsqlConnectionStringBuilder(TestDatabase.PostgresAdminConnectionString) { Database = name, Pooling = false, ApplicationName = "grace-test" }.ConnectionString;
        try
        {
            await using var setup = new NpgsqlConnection(connectionString);
            await setup.OpenAsync();
            await new NpgsqlCommand("CREATE TABLE orders(id int primary key); INSERT INTO orders VALUES (1);", setup).ExecuteNonQueryAsync();

            // The blocker: a transaction that holds an exclusive lock and goes idle, as a stuck job would.
            var blocker = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = "stuck-job" }.ConnectionString);
            await blocker.OpenAsync();
            await new NpgsqlCommand("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;", blocker).ExecuteNonQueryAsync();

            // The victim: waits for the lock.
            await using var victim = new NpgsqlConnection(connectionString);
            await victim.OpenAsync();
            var waiting = new NpgsqlCommand("SELECT count(*) FROM orders", victim) { CommandTimeout = 60 }.ExecuteScalarAsync();

            var target = TestTargets.Postgres("orders-db", connectionString);
            var probe = new PostgresBlockedSessionsProbe();
            for (var i = 0; i < 50 && await probe.ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default) < 1; i++)
            {
                await Task.Delay(100);
            }

            Assert.Equal(1, await probe.ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default));
            var executor = new PostgresLockExecutor();
            var request = new ActionRequest(Guid.NewGuid(), target, new Dictionary<string, string> { ["MinBlockedSeconds"] = "0" });
            var snapshot = await executor.SnapshotAsync(request, default);
            Assert.Contains("stuck-job", snapshot.Summary);
            Assert.DoesNotContain("Password", snapshot.State, StringComparison.OrdinalIgnoreCase);

            var result = await executor.ExecuteAsync(request, snapshot, default);
            Assert.Contains("Ended 1 blocking session", result.Message);
            Assert.Equal(1L, await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(0, await probe.ReadAsync(new ProbeRequest(target, new Dictionary<string, string>(), null), default));
            await Assert.ThrowsAnyAsync<Exception>(() => new NpgsqlCommand("SELECT 1", blocker).ExecuteScalarAsync());
            await blocker.DisposeAsync();
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString);
            await admin.OpenAsync();
            await new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", admin).ExecuteNonQueryAsync();
        }
    }
}
