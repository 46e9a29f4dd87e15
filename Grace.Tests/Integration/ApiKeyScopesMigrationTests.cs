using Grace.Data;
using Grace.Data.Entities;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Integration;

/// <summary>
/// Issue 13: the ApiKeyScopes migration on a database that already holds keys. A key made before
/// scopes existed keeps every ingestion scope and gets no limits, so its sender keeps working.
/// </summary>
public sealed class ApiKeyScopesMigrationTests
{
    [Theory]
    [InlineData(DatabaseProvider.Sqlite)]
    [InlineData(DatabaseProvider.Postgres)]
    public async Task A_key_made_before_scopes_keeps_every_ingestion_scope_and_no_limits(DatabaseProvider provider)
    {
        using var folder = new TempFolder();
        await using var database = await TestDatabase.CreateAsync(provider, folder);
        using var host = new GraceHost(TestCatalog.Settings(folder).Concat(database.Settings()));
        await using var db = host.CreateDbWithoutStarting();
        await db.GetService<IMigrator>().MigrateAsync("Escalation");

        var now = DateTimeOffset.UtcNow;
        object id = provider == DatabaseProvider.Sqlite ? Guid.NewGuid().ToString().ToUpperInvariant() : Guid.NewGuid();
        object createdAt = provider == DatabaseProvider.Sqlite ? new DateTimeOffsetToBinaryConverter().ConvertToProvider(now)! : now;
        await db.Database.ExecuteSqlAsync($"""INSERT INTO "ApiKeys" ("Id", "Name", "Prefix", "Hash", "CreatedBy", "CreatedAt") VALUES ({id}, {"old-sender"}, {"grace_00000000"}, {new string('0', 64)}, {"admin"}, {createdAt})""");

        await db.Database.MigrateAsync();
        var key = await db.ApiKeys.AsNoTracking().SingleAsync(k => k.Prefix == "grace_00000000");
        Assert.Equal(ApiKeyScopes.Ingest, key.Scopes);
        Assert.Empty(key.AllowedSources);
        Assert.Empty(key.AllowedTargets);
        Assert.Empty(key.AllowedPatterns);
        Assert.Null(key.LastUsedAt);
    }
}
