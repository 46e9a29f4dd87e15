using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace Grace.Data;

/// <summary>
/// Applies pending migrations before the engine starts (hosted services start in registration
/// order, and this one is registered first). A database that is still starting is retried.
/// </summary>
internal sealed class DatabaseMigrator(
    IDbContextFactory<GraceDbContext> factory,
    IOptions<DatabaseOptions> options,
    GraceDatabaseInfo info,
    ILogger<DatabaseMigrator> logger) : IHostedService
{
    private static readonly ResiliencePipeline Retry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<System.Data.Common.DbException>().Handle<TimeoutException>(),
            MaxRetryAttempts = 5,
            Delay = TimeSpan.FromSeconds(1),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
        })
        .Build();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (info.SqliteFilePath is { } file && file != ":memory:")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        }

        if (!options.Value.MigrateOnStart)
        {
            return;
        }

        await Retry.ExecuteAsync(async ct =>
        {
            await using var db = await factory.CreateDbContextAsync(ct);
            if (info.Provider == DatabaseProvider.Sqlite)
            {
                // WAL lets the console read while the engine writes; the mode is stored in the file.
                await db.Database.OpenConnectionAsync(ct);
                await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
            }

            var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
            if (pending.Count > 0)
            {
                logger.LogInformation("Applying {Count} migration(s) to the {Provider} database: {Migrations}",
                    pending.Count, info.Provider, string.Join(", ", pending));
            }

            await db.Database.MigrateAsync(ct);
        }, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        SqliteConnection.ClearAllPools();
        return Task.CompletedTask;
    }
}
