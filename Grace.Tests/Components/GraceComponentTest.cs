using System.Security.Claims;
using Bunit;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Grace.Web.Formatting;
using Grace.Web.Identity;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using MudBlazor.Services;

namespace Grace.Tests.Components;

/// <summary>
/// bUnit base: loose JS interop and MudBlazor's services (as MudBlazor's own tests set up), the
/// real engine services on a real SQLite file, and a signed-in person whose roles a test chooses.
/// </summary>
public abstract class GraceComponentTest : BunitContext, IAsyncLifetime
{
    private readonly TempFolder _folder = new();

    protected GraceComponentTest()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        var dbPath = _folder.Combine("grace.db");
        var options = new DbContextOptionsBuilder<SqliteGraceDbContext>().UseSqlite($"Data Source={dbPath}").Options;
        using (var db = new SqliteGraceDbContext(options))
        {
            db.Database.Migrate();
        }

        Factory = new SwitchableFactory(options);
        // The operator's appsettings.json as shipped, then the test catalog: what the real host reads.
        var configuration = new ConfigurationBuilder().AddJsonFile(RootSettings()).AddInMemoryCollection(TestCatalog.Settings(_folder)).Build();
        Services.AddSingleton<IConfiguration>(configuration);
        Services.AddSingleton<IHostEnvironment>(new TestHostEnvironment(_folder.Path));
        Services.AddLogging();
        Services.AddSingleton(new GraceDatabaseInfo(DatabaseProvider.Sqlite, dbPath));
        Services.AddSingleton<IDbContextFactory<GraceDbContext>>(Factory);
        Services.AddGraceEngineServices();
        // No silo in a component test: decisions are recorded instead of waking a mission grain.
        Services.AddSingleton<Grace.Engine.Gate.IMissionScheduler>(Scheduled);
        Services.AddScoped<CurrentActor>();
        Services.AddScoped<ConsoleActions>();
        Services.AddGraceConsoleFormatting();
        // The product's own policies decide what a role sees, not a map copied here (bUnit's placeholders go first).
        Services.RemoveAll<Microsoft.AspNetCore.Authorization.IAuthorizationService>();
        Services.RemoveAll<Microsoft.AspNetCore.Authorization.IAuthorizationPolicyProvider>();
        Services.RemoveAll<AuthenticationStateProvider>();
        Services.AddAuthorizationBuilder().AddGracePolicies();
        Services.AddSingleton(Authentication);
        Services.AddSingleton<AuthenticationStateProvider>(Authentication);
        Services.AddCascadingAuthenticationState();
        SignIn("olivia", GraceRoles.Operator);
    }

    protected SwitchableFactory Factory { get; }

    /// <summary>Missions the console asked the engine to look at (after an approval, a rejection).</summary>
    protected RecordingMissionScheduler Scheduled { get; } = new();

    /// <summary>Who is signed in: a person with roles, as the cookie handler would build them.</summary>
    protected TestAuthentication Authentication { get; } = new();

    protected Grace.Engine.Notifications.IPipelineNotifier Notifier => Services.GetRequiredService<Grace.Engine.Notifications.IPipelineNotifier>();

    protected void SignIn(string name, params string[] roles) => Authentication.SignIn(name, roles);

    public Task InitializeAsync() => Task.CompletedTask;

    // MudBlazor registers services that only dispose asynchronously; xunit calls this before Dispose.
    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    private static string RootSettings()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Grace.Console.sln")))
            {
                return Path.Combine(dir.FullName, "appsettings.json");
            }
        }

        throw new FileNotFoundException("The repository's appsettings.json was not found above the test binaries.");
    }

    /// <summary>An incident and a mission in the given state, with a contract; optionally waiting for approval.</summary>
    protected async Task<Mission> SeedMissionAsync(string playbook = "test-clear-cache", MissionState state = MissionState.Verifying, int tier = 2,
        string requestedBy = "api", int requiredApprovals = 0, TimeSpan? expiresIn = null)
    {
        await using var db = Factory.CreateDbContext();
        var now = DateTimeOffset.UtcNow;
        var incident = new Incident
        {
            Id = Guid.NewGuid(), Fingerprint = Guid.NewGuid().ToString("N"), Source = "orders-api", Template = "t",
            SampleMessage = "Thumbnail write failed: test cache full", Severity = Severity.Error, FirstSeenAt = now, LastSeenAt = now, Count = 12,
            Status = IncidentStatus.Mitigating, PatternKey = "test-cache",
        };
        var mission = new Mission
        {
            Id = Guid.NewGuid(), IncidentId = incident.Id, PatternKey = "test-cache", PlaybookKey = playbook, Action = "cache.clear", Target = "test-cache",
            Parameters = "{}", Tier = tier, State = state, RequestedBy = requestedBy, CreatedAt = now, UpdatedAt = now,
            Contract = new ActionContract
            {
                Id = Guid.NewGuid(), Probe = "directory.bytes", Target = "test-cache", Comparator = Comparator.LessThanOrEqual, Threshold = 0,
                DeadlineSeconds = 30, Description = "directory.bytes of test-cache is at most 0 B within 30 s of the action", BaselineValue = 81920,
            },
        };
        db.Incidents.Add(incident);
        db.Missions.Add(mission);
        db.MissionEvents.Add(new MissionEvent { MissionId = mission.Id, Stage = PipelineStage.Plan, Kind = "planned", At = now, Actor = "engine", Message = "Playbook planned." });
        if (requiredApprovals > 0)
        {
            db.Approvals.Add(new Approval
            {
                Id = Guid.NewGuid(), MissionId = mission.Id, RequiredCount = requiredApprovals, RequestedBy = requestedBy, RequestedAt = now,
                ExpiresAt = now + (expiresIn ?? TimeSpan.FromMinutes(30)), Status = ApprovalStatus.Pending,
            });
            db.Snapshots.Add(new Snapshot
            {
                Id = Guid.NewGuid(), MissionId = mission.Id, Executor = "cache.clear", Target = "test-cache", Purpose = "approval",
                State = System.Text.Json.JsonSerializer.Serialize(new Grace.Engine.Execute.SnapshotState("{}", "thumbnails: 20 entries, 80 KiB.", "{}") { ApprovedAgainst = "20 files in 1 folder, 80 KiB" }),
                Summary = "thumbnails: 20 entries, 80 KiB.", TakenAt = now,
            });
        }

        await db.SaveChangesAsync();
        return mission;
    }

    /// <summary>The signed-in person of a component test; a change reaches rendered components as it would on a circuit.</summary>
    public sealed class TestAuthentication : AuthenticationStateProvider
    {
        private AuthenticationState _state = new(new ClaimsPrincipal(new ClaimsIdentity()));

        public void SignIn(string name, params string[] roles)
        {
            var claims = roles.Select(r => new Claim(ClaimTypes.Role, r)).Prepend(new Claim(ClaimTypes.Name, name));
            _state = new AuthenticationState(new ClaimsPrincipal(new ClaimsIdentity(claims, "Identity.Application")));
            NotifyAuthenticationStateChanged(Task.FromResult(_state));
        }

        public override Task<AuthenticationState> GetAuthenticationStateAsync() => Task.FromResult(_state);
    }

    /// <summary>A context factory on a real SQLite file that a test can make fail (error state) or hold (loading state).</summary>
    public sealed class SwitchableFactory(DbContextOptions<SqliteGraceDbContext> options) : IDbContextFactory<GraceDbContext>
    {
        public bool Broken { get; set; }

        public TaskCompletionSource? Hold { get; set; }

        private int _created;

        /// <summary>How many contexts were asked for: one per page reload.</summary>
        public int Created => Volatile.Read(ref _created);

        public GraceDbContext CreateDbContext()
        {
            Interlocked.Increment(ref _created);
            return Broken ? throw new InvalidOperationException("database unreachable") : new SqliteGraceDbContext(options);
        }

        public async Task<GraceDbContext> CreateDbContextAsync(CancellationToken cancellationToken = default)
        {
            if (Hold is { } hold)
            {
                await hold.Task.WaitAsync(cancellationToken);
            }

            return CreateDbContext();
        }
    }
}
