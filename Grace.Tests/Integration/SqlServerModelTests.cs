using Grace.Data;
using Grace.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Grace.Tests.Integration;

/// <summary>
/// SQL Server cannot run on this machine: its model, migration script and the engine's key queries
/// are checked as generated text. What needs a real server is listed in the README.
/// </summary>
public sealed class SqlServerModelTests
{
    private static SqlServerGraceDbContext SqlServer() => new(new DbContextOptionsBuilder<SqlServerGraceDbContext>()
        .UseSqlServer("Server=sql.invalid;Database=grace;User Id=grace;Password=not-used;TrustServerCertificate=True").Options);

    [Fact]
    public void The_sql_server_migration_script_creates_the_whole_model()
    {
        using var db = SqlServer();
        var script = db.GetService<IMigrator>().GenerateScript(options: MigrationsSqlGenerationOptions.Idempotent);

        foreach (var table in new[] { "Incidents", "Missions", "MissionEvents", "Contracts", "Snapshots", "Approvals", "ApprovalDecisions",
                     "BenchmarkRuns", "Outcomes", "PlaybookStatistics", "AuditEntries", "EngineSettings", "AspNetUsers", "AspNetRoles" })
        {
            Assert.Contains($"CREATE TABLE [{table}]", script);
        }

        Assert.Contains("CREATE UNIQUE INDEX [IX_Incidents_Fingerprint] ON [Incidents] ([Fingerprint])", script);
        Assert.Contains("CREATE UNIQUE INDEX [IX_ApprovalDecisions_ApprovalId_UserName]", script);
        Assert.Contains("[FirstSeenAt] datetimeoffset NOT NULL", script);
        Assert.Contains("[Version] uniqueidentifier NOT NULL", script);
        Assert.Contains("IF NOT EXISTS", script); // idempotent: safe to run twice by a DBA
    }

    [Fact]
    public void Every_provider_has_its_migrations_up_to_date_with_the_model()
    {
        using var sqlServer = SqlServer();
        using var sqlite = new SqliteGraceDbContext(new DbContextOptionsBuilder<SqliteGraceDbContext>().UseSqlite("Data Source=:memory:").Options);
        using var postgres = new PostgresGraceDbContext(new DbContextOptionsBuilder<PostgresGraceDbContext>().UseNpgsql("Host=localhost;Database=grace").Options);
        Assert.False(sqlServer.Database.HasPendingModelChanges(), "SQL Server migrations are behind the model: add a migration");
        Assert.False(sqlite.Database.HasPendingModelChanges(), "SQLite migrations are behind the model: add a migration");
        Assert.False(postgres.Database.HasPendingModelChanges(), "PostgreSQL migrations are behind the model: add a migration");
    }

    [Fact]
    public void The_engine_queries_translate_for_sql_server()
    {
        using var db = SqlServer();
        var now = DateTimeOffset.UtcNow;
        MissionState[] inFlight = [MissionState.Approved, MissionState.Executing, MissionState.Verifying];

        var cooldown = db.Missions.Where(m => m.PlaybookKey == "p" && m.Target == "t" && m.ExecutedAt != null && m.ExecutedAt > now)
            .OrderByDescending(m => m.ExecutedAt).Select(m => m.ExecutedAt).Take(1).ToQueryString();
        Assert.Contains("[m].[ExecutedAt] > @", cooldown);
        var busy = db.Missions.Where(m => m.Target == "t" && inFlight.Contains(m.State)).ToQueryString();
        Assert.Contains("[m].[State]", busy);
        var sweep = db.Missions.Where(m => m.CompletedAt != null && !db.Outcomes.Any(o => o.MissionId == m.Id)).OrderBy(m => m.CompletedAt).Select(m => m.Id).Take(100).ToQueryString();
        Assert.Contains("NOT EXISTS", sweep);
        var expiring = db.Missions.Where(m => m.State == MissionState.AwaitingApproval && m.Approval!.Status == ApprovalStatus.Pending && m.Approval.ExpiresAt <= now).ToQueryString();
        Assert.Contains("[Approvals]", expiring);
    }

    [Fact]
    public void The_escalation_queries_translate_for_sql_server()
    {
        using var db = SqlServer();
        var now = DateTimeOffset.UtcNow;
        var id = Guid.NewGuid();
        // The sweep's due rungs, and its stranded incidents (a rung marked, or planning that failed while it fires).
        var due = db.Incidents.Where(i => i.RetryAt != null && i.RetryAt <= now && !i.PlanPending).OrderBy(i => i.RetryAt).Select(i => i.Id).Take(100).ToQueryString();
        Assert.Contains("[i].[RetryAt] <= @", due);
        var stranded = db.Incidents.Where(i => i.PlanPending && (i.LastSeenAt < now || i.OpenedAt < now || i.NextPlaybookKey != null)).Select(i => i.Id).ToQueryString();
        Assert.Contains("[i].[NextPlaybookKey] IS NOT NULL", stranded);
        // The ladder: the episode's missions, when a playbook last ran, when the incident's last mission ended.
        var episode = db.Missions.Where(m => m.IncidentId == id && m.CreatedAt >= now).Select(m => m.PlaybookKey).ToQueryString();
        Assert.Contains("[m].[CreatedAt] >= @", episode);
        var lastRun = db.Missions.Where(m => m.PlaybookKey == "p" && (false || m.Target == "t") && m.ExecutedAt != null).Select(m => m.ExecutedAt).ToQueryString();
        Assert.Contains("[m].[ExecutedAt] IS NOT NULL", lastRun);
        var underWay = db.Missions.Where(m => m.IncidentId == id && m.Id != id && !MissionStates.Terminal.Contains(m.State)).ToQueryString();
        Assert.Contains("NOT IN", underWay);
        // The incident page: its timeline, its own missions and those that covered it; the overview's count by state.
        var covering = db.MissionEvents.Where(e => e.IncidentId == id && e.Kind == "covers").Select(e => e.MissionId);
        var missions = db.Missions.Where(m => m.IncidentId == id || covering.Contains(m.Id)).OrderByDescending(m => m.CreatedAt).ToQueryString();
        Assert.Contains("[MissionEvents]", missions);
        var byState = db.Missions.Where(m => MissionStates.Trouble.Contains(m.State) && m.UpdatedAt > now).GroupBy(m => m.State).Select(g => new { g.Key, Count = g.Count() }).ToQueryString();
        Assert.Contains("GROUP BY [m].[State]", byState);
        var timeline = db.IncidentEvents.Where(e => e.IncidentId == id).OrderBy(e => e.Id).ToQueryString();
        Assert.Contains("[IncidentEvents]", timeline);
    }

    [Fact]
    public void The_escalation_migration_adds_the_incident_timeline_and_runbook_steps()
    {
        using var db = SqlServer();
        var script = db.GetService<IMigrator>().GenerateScript(options: MigrationsSqlGenerationOptions.Idempotent);
        Assert.Contains("CREATE TABLE [IncidentEvents]", script);
        Assert.Contains("CREATE TABLE [MissionSteps]", script);
        Assert.Contains("CREATE UNIQUE INDEX [IX_MissionSteps_MissionId_Index]", script);
        Assert.Contains("[NeedsHuman] bit NOT NULL", script);
        Assert.Contains("UPDATE \"Incidents\" SET \"OpenedAt\" = \"FirstSeenAt\"", script.Replace("''", "'", StringComparison.Ordinal));
    }
}
