using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Notifications.Outbox;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Grace.Tests.Integration;

/// <summary>The outbox shared by several instances on one real PostgreSQL database, and its SQL on SQL Server.</summary>
public sealed class OutboxConcurrencyTests
{
    [Fact]
    public async Task Two_instances_on_one_postgres_database_deliver_every_row_exactly_once()
    {
        using var folder = new TempFolder();
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Postgres, folder);
        await using var receiver = await LoopbackReceiver.StartAsync();
        GraceHost Instance(string name) => new GraceHost(TestCatalog.Settings(folder).Concat(database.Settings(name, targetsOn: "grace-a")).Concat(new Dictionary<string, string?>
        {
            ["Grace:Notifications:PollIntervalSeconds"] = "0.05",
            ["Grace:Notifications:Webhooks:ops-hook:Url"] = receiver.Url,
            ["Grace:Notifications:Webhooks:ops-hook:Secret"] = "concurrency-test-secret-0123",
            ["Grace:Notifications:Routes:0:Channels:0"] = "ops-hook",
        })).Start();
        await using var first = Instance("grace-a");
        await using var second = Instance("grace-b");

        const int Rows = 40;
        await using (var db = first.CreateDb())
        {
            var now = DateTimeOffset.UtcNow;
            for (var i = 0; i < Rows; i++)
            {
                db.Notifications.Add(new Notification
                {
                    Id = Guid.NewGuid(), Kind = NotificationKind.IncidentNeedsHuman, Channel = "ops-hook", DedupKey = $"concurrency-{i}",
                    Payload = new NotificationContent { Kind = NotificationKind.IncidentNeedsHuman, Title = $"row {i}", Text = "t", Link = "http://localhost:5132/incidents" }.ToJson(),
                    Status = NotificationStatus.Pending, NextAttemptAt = now, CreatedAt = now,
                });
            }

            await db.SaveChangesAsync();
        }

        // Done when every row is delivered and no instance still holds a lease (a second send would hold one).
        await first.WaitUntilAsync(async db => await db.Notifications.CountAsync(n => n.Status == NotificationStatus.Delivered && n.LeaseOwner == null) == Rows, 30);
        var deliveries = receiver.Received.Select(r => r.Headers[WebhookChannel.DeliveryHeader]).ToList();
        Assert.Equal(Rows, deliveries.Count);
        Assert.Equal(Rows, deliveries.Distinct().Count());
        await using var check = first.CreateDb();
        Assert.All(await check.Notifications.AsNoTracking().ToListAsync(), n => Assert.Equal(1, n.Attempts));
    }

    [Fact]
    public void The_outbox_table_and_the_dispatchers_queries_are_sql_server_ready()
    {
        using var db = new SqlServerGraceDbContext(new DbContextOptionsBuilder<SqlServerGraceDbContext>()
            .UseSqlServer("Server=sql.invalid;Database=grace;User Id=grace;Password=not-used;TrustServerCertificate=True").Options);
        var script = db.GetService<IMigrator>().GenerateScript(options: MigrationsSqlGenerationOptions.Idempotent);
        Assert.Contains("CREATE TABLE [Notifications]", script);
        Assert.Contains("CREATE UNIQUE INDEX [IX_Notifications_DedupKey] ON [Notifications] ([DedupKey])", script);
        Assert.Contains("[Via] int NOT NULL DEFAULT 0", script);

        var now = DateTimeOffset.UtcNow;
        var due = db.Notifications.Where(n => (n.Status == NotificationStatus.Pending || n.Status == NotificationStatus.Failing) && n.NextAttemptAt <= now
                && (n.LeaseUntil == null || n.LeaseUntil < now)).OrderBy(n => n.NextAttemptAt).Select(n => n.Id).Take(50).ToQueryString();
        Assert.Contains("[n].[LeaseUntil] IS NULL", due);
        Assert.Contains("[n].[NextAttemptAt] <= @", due);
    }
}
