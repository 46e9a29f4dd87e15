using Grace.Data;
using Grace.Data.Entities;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Grace.Tests.Integration;

/// <summary>
/// Issue 15: the EarnedAutonomy migration on a database that already holds a mission. The mission
/// keeps working: not shadow, no verdict, its contract's pre-check unknown (so learning counts it as
/// before); tier suggestions are stored and read back.
/// </summary>
public sealed class EarnedAutonomyMigrationTests
{
    [Theory]
    [InlineData(DatabaseProvider.Sqlite)]
    [InlineData(DatabaseProvider.Postgres)]
    public async Task A_mission_made_before_the_migration_reads_as_a_plain_mission_and_suggestions_are_stored(DatabaseProvider provider)
    {
        using var folder = new TempFolder();
        await using var database = await TestDatabase.CreateAsync(provider, folder);
        using var host = new GraceHost(TestCatalog.Settings(folder).Concat(database.Settings()));
        await using var db = host.CreateDbWithoutStarting();
        await db.GetService<IMigrator>().MigrateAsync("ApiKeyScopes");

        var sqlite = provider == DatabaseProvider.Sqlite;
        var now = DateTimeOffset.UtcNow;
        object Id(Guid g) => sqlite ? g.ToString().ToUpperInvariant() : g;
        object At(DateTimeOffset t) => sqlite ? new DateTimeOffsetToBinaryConverter().ConvertToProvider(t)! : t;
        var incident = Guid.NewGuid();
        var mission = Guid.NewGuid();
        await db.Database.ExecuteSqlAsync($"""
            INSERT INTO "Incidents" ("Id", "Fingerprint", "Source", "Template", "Severity", "SampleMessage", "FirstSeenAt", "LastSeenAt", "OpenedAt", "Count", "Reopened", "Status", "PlanPending", "HeldBackStarts", "NeedsHuman", "AwaitingRecurrence")
            VALUES ({Id(incident)}, {"f0"}, {"orders-api"}, {"old"}, {3}, {"old"}, {At(now)}, {At(now)}, {At(now)}, {1L}, {0}, {2}, {false}, {0}, {false}, {false})
            """);
        await db.Database.ExecuteSqlAsync($"""
            INSERT INTO "Missions" ("Id", "IncidentId", "PatternKey", "PlaybookKey", "Action", "Target", "Parameters", "Tier", "DryRun", "State", "Stage", "RequestedBy", "CreatedAt", "UpdatedAt", "Version", "Origin", "StepIndex", "StepCount")
            VALUES ({Id(mission)}, {Id(incident)}, {"test-wal"}, {"test-checkpoint"}, {"sqlite.wal-checkpoint"}, {"test-db"}, {"{}"}, {0}, {false}, {5}, {8}, {"engine"}, {At(now)}, {At(now)}, {Id(Guid.NewGuid())}, {0}, {0}, {0})
            """);

        await db.Database.MigrateAsync();
        var old = await db.Missions.AsNoTracking().SingleAsync(m => m.Id == mission);
        Assert.Equal((false, ShadowVerdict.None, ContractPrecheck.Unknown), (old.Shadow, old.ShadowVerdict, old.ContractAtPlan));
        Assert.Equal(MissionState.Succeeded, old.State);

        db.TierSuggestions.Add(new TierSuggestion
        {
            Id = Guid.NewGuid(), PlaybookKey = "test-checkpoint", FromTier = 2, ToTier = 1, Runs = 40, Successes = 40, LowerBound = 0.912,
            RunsSinceRollback = 40, Status = TierSuggestionStatus.Open, CreatedAt = now,
        });
        await db.SaveChangesAsync();
        var stored = await db.TierSuggestions.AsNoTracking().SingleAsync();
        Assert.Equal((2, 1, 40, 0.912, TierSuggestionStatus.Open), (stored.FromTier, stored.ToTier, stored.Runs, stored.LowerBound, stored.Status));
    }
}
