using Grace.Data;
using Grace.Data.Entities;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Infrastructure;

/// <summary>The real Grace application (Program.cs), on the settings a test gives it.</summary>
public sealed class GraceHost(IEnumerable<KeyValuePair<string, string?>> settings, Action<IServiceCollection>? services = null)
    : WebApplicationFactory<Program>
{
    private readonly List<KeyValuePair<string, string?>> _settings = settings.ToList();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(_settings));
        if (services is not null)
        {
            builder.ConfigureTestServices(services);
        }
    }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public GraceDbContext CreateDb() => Get<IDbContextFactory<GraceDbContext>>().CreateDbContext();

    /// <summary>A context on the test's database without starting Grace (to arrange what a crash would leave).</summary>
    public GraceDbContext CreateDbWithoutStarting()
    {
        var provider = _settings.LastOrDefault(kv => kv.Key == "Grace:Database:Provider").Value;
        var connection = _settings.LastOrDefault(kv => kv.Key == "Grace:Database:ConnectionString").Value;
        return provider == nameof(DatabaseProvider.Postgres)
            ? new PostgresGraceDbContext(new DbContextOptionsBuilder<PostgresGraceDbContext>().UseNpgsql(connection).Options)
            : new SqliteGraceDbContext(new DbContextOptionsBuilder<SqliteGraceDbContext>().UseSqlite(connection).Options);
    }

    /// <summary>Starts the host (migrations, engine) without sending a request.</summary>
    public GraceHost Start()
    {
        _ = Services;
        return this;
    }

    /// <summary>Polls the database until a mission matches, or fails with what was seen.</summary>
    public async Task<Mission> WaitForMissionAsync(Func<Mission, bool> predicate, string what, int timeoutSeconds = 45)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        List<Mission> seen = [];
        while (DateTime.UtcNow < deadline)
        {
            await using var db = CreateDb();
            seen = await db.Missions.AsNoTracking().Include(m => m.Contract).Include(m => m.Approval).Include(m => m.Events).ToListAsync();
            if (seen.FirstOrDefault(predicate) is { } found)
            {
                return found;
            }

            await Task.Delay(100);
        }

        var timeline = string.Join("\n", seen.SelectMany(m => m.Events.OrderBy(e => e.Id).Select(e => $"  {m.PlaybookKey} {e.Stage} {e.Kind}: {e.Message}")));
        throw new TimeoutException($"No mission became {what} within {timeoutSeconds} s. Missions: {string.Join(", ", seen.Select(m => $"{m.PlaybookKey}={m.State}"))}\n{timeline}");
    }
}
