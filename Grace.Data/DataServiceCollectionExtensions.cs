using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Grace.Data;

public static class DataServiceCollectionExtensions
{
    /// <summary>
    /// Registers Grace's database on the provider chosen by <c>Grace:Database:Provider</c>:
    /// an <see cref="IDbContextFactory{GraceDbContext}"/> for short-lived contexts, a scoped
    /// <see cref="GraceDbContext"/> for ASP.NET Core Identity, and the migrator that runs at start.
    /// </summary>
    public static IHostApplicationBuilder AddGraceData(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<DatabaseOptions>()
            .BindConfiguration(DatabaseOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.Provider == DatabaseProvider.Sqlite || !string.IsNullOrWhiteSpace(o.ConnectionString),
                $"{DatabaseOptions.Section}:ConnectionString is required when {DatabaseOptions.Section}:Provider is SqlServer or Postgres.")
            .ValidateOnStart();

        // Resolved lazily from validated options, so configuration added after this call (tests,
        // command line) still decides the provider.
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            var contentRoot = sp.GetRequiredService<IHostEnvironment>().ContentRootPath;
            return new GraceDatabaseInfo(options.Provider,
                options.Provider == DatabaseProvider.Sqlite ? new SqliteConnectionStringBuilder(SqliteConnectionString(options, contentRoot)).DataSource : null);
        });
        services.AddSingleton<SqliteLogFlush>();
        services.AddSingleton<IDbContextFactory<GraceDbContext>>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            var contentRoot = sp.GetRequiredService<IHostEnvironment>().ContentRootPath;
            var loggerFactory = sp.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>();
            return options.Provider switch
            {
                DatabaseProvider.SqlServer => new ProviderContextFactory<SqlServerGraceDbContext>(
                    new DbContextOptionsBuilder<SqlServerGraceDbContext>().UseLoggerFactory(loggerFactory)
                        .UseSqlServer(options.ConnectionString, sql => sql.CommandTimeout(options.CommandTimeoutSeconds).EnableRetryOnFailure(RetryCount, RetryDelay, null)).Options),
                DatabaseProvider.Postgres => new ProviderContextFactory<PostgresGraceDbContext>(
                    new DbContextOptionsBuilder<PostgresGraceDbContext>().UseLoggerFactory(loggerFactory)
                        .UseNpgsql(options.ConnectionString, npgsql => npgsql.CommandTimeout(options.CommandTimeoutSeconds).EnableRetryOnFailure(RetryCount, RetryDelay, null)).Options),
                _ => SqliteFactory(options, contentRoot, loggerFactory),
            };
        });

        // Identity's stores want a scoped context; it comes from the same factory.
        services.AddScoped<GraceDbContext>(sp => sp.GetRequiredService<IDbContextFactory<GraceDbContext>>().CreateDbContext());
        services.AddHostedService<DatabaseMigrator>();
        return builder;
    }

    // The provider's own retries ride out a blip, briefly: a request must answer quickly during an
    // outage (503, Retry-After) instead of hanging for a minute, and the engine retries on its own terms.
    private const int RetryCount = 3;
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(2);

    /// <summary>The SQLite connection string: the configured one, or grace.db in the data folder.</summary>
    public static string SqliteConnectionString(DatabaseOptions options, string contentRoot)
    {
        var csb = new SqliteConnectionStringBuilder(options.ConnectionString ?? string.Empty);
        if (string.IsNullOrWhiteSpace(csb.DataSource))
        {
            var dir = Path.IsPathRooted(options.DataDirectory) ? options.DataDirectory : Path.Combine(contentRoot, options.DataDirectory);
            csb.DataSource = Path.Combine(dir, "grace.db");
        }
        else if (!Path.IsPathRooted(csb.DataSource) && csb.DataSource != ":memory:")
        {
            csb.DataSource = Path.Combine(contentRoot, csb.DataSource);
        }

        // Microsoft.Data.Sqlite retries SQLITE_BUSY until the command timeout: that is the busy timeout.
        csb.DefaultTimeout = Math.Max(1, (int)Math.Ceiling(options.SqliteBusyTimeoutMilliseconds / 1000.0));
        csb.Pooling = true;
        return csb.ToString();
    }

    private static ProviderContextFactory<SqliteGraceDbContext> SqliteFactory(DatabaseOptions options, string contentRoot, Microsoft.Extensions.Logging.ILoggerFactory loggerFactory)
    {
        var connectionString = SqliteConnectionString(options, contentRoot);
        var busyTimeout = TimeSpan.FromMilliseconds(options.SqliteBusyTimeoutMilliseconds);
        // Writers in this process queue for SQLite's one writer in order, instead of each polling it (see SqliteWriteGate).
        var gate = SqliteWriteGate.For(new SqliteConnectionStringBuilder(connectionString).DataSource);
        return new ProviderContextFactory<SqliteGraceDbContext>(
            new DbContextOptionsBuilder<SqliteGraceDbContext>().UseLoggerFactory(loggerFactory)
                .UseSqlite(connectionString, s => s.CommandTimeout(options.CommandTimeoutSeconds))
                .AddInterceptors(new SqliteBusyTimeoutInterceptor(options.SqliteBusyTimeoutMilliseconds), new SqliteWriteGateInterceptor(gate, busyTimeout)).Options,
            SqliteGraceDbContext.Lease);
    }

    /// <summary>
    /// Contexts from a pool (EF Core's <see cref="PooledDbContextFactory{TContext}"/>): the engine makes one
    /// short-lived context per operation, thousands a second under a storm, and a new context builds its
    /// own service scope and state each time. A pooled one is reset when disposed and handed out again
    /// (ADR 0040). What a context sets on itself in its constructor is reset with it, so it is set again
    /// here on every lease (<paramref name="lease"/>).
    /// </summary>
    private sealed class ProviderContextFactory<TContext>(DbContextOptions<TContext> options, Action<TContext>? lease = null)
        : IDbContextFactory<GraceDbContext>
        where TContext : GraceDbContext
    {
        private readonly PooledDbContextFactory<TContext> _pool = new(options);

        public GraceDbContext CreateDbContext()
        {
            var db = _pool.CreateDbContext();
            lease?.Invoke(db);
            return db;
        }

        public async Task<GraceDbContext> CreateDbContextAsync(CancellationToken cancellationToken = default)
        {
            var db = await _pool.CreateDbContextAsync(cancellationToken);
            lease?.Invoke(db);
            return db;
        }
    }
}

/// <summary>What the engine may need to know about Grace's own database (its SQLite file, for example).</summary>
public sealed record GraceDatabaseInfo(DatabaseProvider Provider, string? SqliteFilePath);
