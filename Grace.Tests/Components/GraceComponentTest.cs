using Bunit;
using Grace.Data;
using Grace.Engine.Missions;
using Grace.Engine.Notifications;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using MudBlazor.Services;

namespace Grace.Tests.Components;

/// <summary>bUnit base: loose JS interop and MudBlazor's services, as MudBlazor's own tests set up; a real SQLite file behind the queries.</summary>
public abstract class GraceComponentTest : BunitContext, IAsyncLifetime
{
    private readonly Infrastructure.TempFolder _folder = new();

    protected GraceComponentTest()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        var options = new DbContextOptionsBuilder<SqliteGraceDbContext>().UseSqlite($"Data Source={_folder.Combine("grace.db")}").Options;
        using (var db = new SqliteGraceDbContext(options))
        {
            db.Database.Migrate();
        }

        Factory = new SwitchableFactory(options);
        Notifier = new PipelineNotifier(NullLogger<PipelineNotifier>.Instance);
        Services.AddSingleton<IDbContextFactory<GraceDbContext>>(Factory);
        Services.AddSingleton<IPipelineNotifier>(Notifier);
        Services.AddSingleton(TimeProvider.System);
        Services.AddSingleton<MissionQueries>();
    }

    protected SwitchableFactory Factory { get; }
    protected PipelineNotifier Notifier { get; }

    public Task InitializeAsync() => Task.CompletedTask;

    // MudBlazor registers services that only dispose asynchronously; xunit calls this before Dispose.
    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    /// <summary>A context factory on a real SQLite file that a test can make fail, to see the error state.</summary>
    public sealed class SwitchableFactory(DbContextOptions<SqliteGraceDbContext> options) : IDbContextFactory<GraceDbContext>
    {
        public bool Broken { get; set; }

        public GraceDbContext CreateDbContext() =>
            Broken ? throw new InvalidOperationException("database unreachable") : new SqliteGraceDbContext(options);
    }
}
