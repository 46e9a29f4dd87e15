using System.Net;
using System.Net.Http.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Grace.Tests.Integration;

/// <summary>
/// PostgreSQL goes away in the middle of an action (a TCP proxy in front of the real server is cut):
/// the action that ran is recorded as run once the database is back, never rolled back for want of
/// bookkeeping, and the API answers at once with 503 and Retry-After instead of hanging.
/// </summary>
public sealed class DatabaseOutageTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private TcpProxy _proxy = null!;
    private RecordingTarget _recorder = null!;
    private GraceHost _host = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Postgres, _folder);
        var upstream = new NpgsqlConnectionStringBuilder(_database.ConnectionString);
        _proxy = new TcpProxy(upstream.Host!, upstream.Port);
        _recorder = await RecordingTarget.StartAsync();
        var throughProxy = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Host = "127.0.0.1", Port = _proxy.Port, Timeout = 3 };
        var settings = TestCatalog.Settings(_folder).Concat(_database.Settings().Where(s => s.Key is "Grace:Database:Provider")).Concat(new Dictionary<string, string?>
        {
            ["Grace:Database:ConnectionString"] = throughProxy.ConnectionString,
            ["Grace:Database:CommandTimeoutSeconds"] = "3",
            // One instance: this test is about bookkeeping, not membership (the cluster tests cover that).
            ["Grace:Cluster:Mode"] = "Standalone",
            ["Grace:Ingestion:StoreTimeoutSeconds"] = "2",
            ["Grace:Targets:outage:Kind"] = "Http",
            ["Grace:Targets:outage:Url"] = _recorder.Url,
            ["Grace:Patterns:outage:Source"] = "outage-",
            ["Grace:Patterns:outage:Playbooks:0"] = "act-outage",
            ["Grace:Playbooks:act-outage:Action"] = "http.call",
            ["Grace:Playbooks:act-outage:Target"] = "outage",
            ["Grace:Playbooks:act-outage:Tier"] = "0",
            ["Grace:Playbooks:act-outage:CooldownSeconds"] = "0",
            ["Grace:Playbooks:act-outage:Parameters:Path"] = RecordingTarget.PathOf("outage", "act"),
            ["Grace:Playbooks:act-outage:Parameters:RollbackPath"] = RecordingTarget.PathOf("outage", "undo"),
            ["Grace:Playbooks:act-outage:Contract:Probe"] = "http.status",
            ["Grace:Playbooks:act-outage:Contract:Parameters:Path"] = RecordingTarget.PathOf("outage", "ok"),
            ["Grace:Playbooks:act-outage:Contract:Comparator"] = "LessThan",
            ["Grace:Playbooks:act-outage:Contract:Threshold"] = "400",
            ["Grace:Playbooks:act-outage:Contract:DeadlineSeconds"] = "30",
        });
        _host = new GraceHost(settings).Start();
    }

    public async Task DisposeAsync()
    {
        _proxy.Restore();
        await _host.DisposeAsync();
        await _recorder.DisposeAsync();
        await _proxy.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private PostgresGraceDbContext Direct() => new PostgresGraceDbContext(new DbContextOptionsBuilder<PostgresGraceDbContext>().UseNpgsql(_database.ConnectionString).Options);

    [Fact]
    public async Task An_action_that_ran_while_the_database_was_away_is_recorded_as_run_and_never_rolled_back()
    {
        using var ingest = _host.IngestClient();
        var actionStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _recorder.OnAction = _ =>
        {
            // The database goes away while the action runs: its result cannot be written.
            _proxy.Cut();
            actionStarted.TrySetResult();
            return Task.CompletedTask;
        };

        Assert.Equal(HttpStatusCode.Accepted, (await ingest.PostAsJsonAsync("api/signals", new { source = "outage-1", message = "The service needs its action" })).StatusCode);
        await actionStarted.Task.WaitAsync(TimeSpan.FromSeconds(60));

        // During the outage a program gets a quick, clear answer: 503 with Retry-After, not a 500 after a minute.
        var asked = DateTime.UtcNow;
        using var during = await ingest.PostAsJsonAsync("api/signals", new { source = "sent-during-outage", message = "Sent while the database is away" });
        var waited = DateTime.UtcNow - asked;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, during.StatusCode);
        Assert.NotNull(during.Headers.RetryAfter);
        Assert.True(waited < TimeSpan.FromSeconds(20), $"The API took {waited.TotalSeconds:0.0} s to answer during the outage.");

        // OTLP exporters get the same: 503 with Retry-After (which they retry), the body a google.rpc.Status.
        using var otlpBody = new StringContent("""{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":17,"body":{"stringValue":"exported while the database is away"}}]}]}]}""",
            System.Text.Encoding.UTF8, "application/json");
        using var otlp = await ingest.PostAsync("v1/logs", otlpBody);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, otlp.StatusCode);
        Assert.NotNull(otlp.Headers.RetryAfter);
        Assert.Equal(14, System.Text.Json.JsonDocument.Parse(await otlp.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetInt32());

        await Task.Delay(TimeSpan.FromSeconds(3));
        _proxy.Restore();

        Mission ended;
        for (var deadline = DateTime.UtcNow.AddSeconds(90); ; await Task.Delay(200))
        {
            await using var db = Direct();
            ended = await db.Missions.AsNoTracking().Include(m => m.Events).SingleAsync(m => m.Target == "outage");
            if (ended.State.IsTerminal())
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"The mission is still {ended.State} after the database came back.");
        }

        Assert.Equal(MissionState.Succeeded, ended.State);
        Assert.Contains(ended.Events, e => e.Kind == "executed");
        Assert.DoesNotContain(ended.Events, e => e.Kind is "failed" or "rolled-back");
        Assert.Single(_recorder.Actions, a => a.Target == "outage");
        Assert.Empty(_recorder.Undos);

        // The signal refused with 503 was queued, not lost: it is stored once the database answers.
        for (var deadline = DateTime.UtcNow.AddSeconds(30); ; await Task.Delay(200))
        {
            await using var db = Direct();
            if (await db.Incidents.AnyAsync(i => i.Source == "sent-during-outage"))
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "The signal sent during the outage was never stored.");
        }
    }
}
