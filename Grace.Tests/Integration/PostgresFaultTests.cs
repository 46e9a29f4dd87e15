using System.Collections.Concurrent;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Faults;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Serilog.Core;
using Serilog.Events;

namespace Grace.Tests.Integration;

/// <summary>A real lock held in a real PostgreSQL database: noticed by a health check, ended by a mission, with the password kept out of the logs.</summary>
public sealed class PostgresFaultTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private string _name = "";
    private string _connectionString = "";
    private string _password = "";

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _name = $"grace_fault_{Guid.NewGuid():N}";
        await using var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString);
        await admin.OpenAsync();
        await new NpgsqlCommand($"CREATE DATABASE \"{_name}\"", admin).ExecuteNonQueryAsync();
        var builder = new NpgsqlConnectionStringBuilder(TestDatabase.PostgresAdminConnectionString) { Database = _name };
        _password = builder.Password!;
        _connectionString = builder.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using (var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString))
        {
            await admin.OpenAsync();
            await new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)", admin).ExecuteNonQueryAsync();
        }

        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private sealed class CapturingSink : ILogEventSink
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public void Emit(LogEvent logEvent) => Lines.Enqueue(logEvent.RenderMessage() + " " + logEvent.Exception);
    }

    [Fact]
    public async Task A_held_lock_becomes_a_mission_that_ends_the_blocker_and_no_log_shows_the_connection_string()
    {
        var logs = new CapturingSink();
        // The shipped demo-postgres target, given a connection string as an operator would (shorter waits for the test).
        var settings = TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Faults:Enabled"] = "true",
            ["Grace:Targets:demo-postgres:ConnectionString"] = _connectionString,
            ["Grace:Targets:demo-postgres:HealthCheck:IntervalSeconds"] = "1",
            ["Grace:Targets:demo-postgres:HealthCheck:Parameters:MinBlockedSeconds"] = "1",
            ["Grace:Playbooks:end-demo-postgres-blockers:Parameters:MinBlockedSeconds"] = "1",
        });
        await using var host = new GraceHost(settings, s => s.AddSingleton<ILogEventSink>(logs)).Start();

        var result = await host.Get<FaultInjector>().InjectAsync(LockHoldFault.Kind, "demo-postgres", 1, new Actor("admin", [GraceRoles.Admin]), default);
        Assert.Contains("Holding an exclusive lock", result);

        // Ending someone's session is tier 2 in the shipped catalog: it waits for an operator.
        var waiting = await host.WaitForMissionAsync(m => m.PlaybookKey == "end-demo-postgres-blockers" && m.State == MissionState.AwaitingApproval, "awaiting approval", 60);
        Assert.Equal(2, waiting.Tier);
        await host.Get<Grace.Engine.Gate.ApprovalService>().DecideAsync(waiting.Id, new Actor("olivia", [GraceRoles.Operator]), ApprovalVerdict.Approve, null, default);
        var mission = await host.WaitForMissionAsync(m => m.Id == waiting.Id && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.Contains(mission.Events, e => e.Kind == "executed" && e.Message.Contains("Ended 1 blocking session", StringComparison.Ordinal));
        var secret = $"Password={_password}";
        Assert.DoesNotContain(mission.Events, e => e.Message.Contains(secret, StringComparison.OrdinalIgnoreCase) || (e.Data ?? "").Contains(secret, StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(logs.Lines, l => l.Contains(_connectionString, StringComparison.Ordinal) || l.Contains(secret, StringComparison.OrdinalIgnoreCase));
        await using var db = host.CreateDb();
        Assert.DoesNotContain(db.Snapshots.ToList(), s => s.State.Contains(secret, StringComparison.OrdinalIgnoreCase) || s.Summary.Contains(secret, StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(db.Incidents.ToList(), i => i.SampleMessage.Contains(secret, StringComparison.OrdinalIgnoreCase));
    }
}
