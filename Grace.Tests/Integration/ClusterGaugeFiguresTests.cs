using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Telemetry;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Time.Testing;

namespace Grace.Tests.Integration;

/// <summary>
/// The figures behind the database-wide gauges: read with aggregates, and held (exported) only by
/// the instance whose cluster reader read them lately (ADR draft-cluster-gauges). The cluster-wide
/// sum is checked on three real instances in <c>ClusterConsistencyTests</c>.
/// </summary>
public sealed class ClusterGaugeFiguresTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private Factory _factory = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _factory = new Factory(_database.ConnectionString!);
        await using var db = _factory.CreateDbContext();
        await db.Database.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private sealed class Factory(string connectionString) : IDbContextFactory<GraceDbContext>
    {
        public GraceDbContext CreateDbContext() => new SqliteGraceDbContext(new DbContextOptionsBuilder<SqliteGraceDbContext>().UseSqlite(connectionString).Options);
    }

    private static Incident Incident(string fingerprint, IncidentStatus status, DateTimeOffset at) => new()
    {
        Id = Guid.NewGuid(), Fingerprint = fingerprint, Source = "s", Template = "t", SampleMessage = "m", Severity = Severity.Error,
        FirstSeenAt = at, LastSeenAt = at, Count = 1, Status = status,
    };

    private static Mission AwaitingApproval(Guid incident, DateTimeOffset requestedAt, ApprovalStatus status) => new()
    {
        Id = Guid.NewGuid(), IncidentId = incident, PatternKey = "p", PlaybookKey = "clear", Action = "cache.clear", Target = "t", Parameters = "{}",
        State = MissionState.AwaitingApproval, RequestedBy = "engine", CreatedAt = requestedAt, UpdatedAt = requestedAt,
        Approval = new Approval { Id = Guid.NewGuid(), RequiredCount = 1, RequestedBy = "engine", RequestedAt = requestedAt, ExpiresAt = requestedAt.AddHours(1), Status = status },
    };

    [Fact]
    public async Task Figures_are_counted_in_the_database_and_exported_only_while_this_instance_holds_the_reader()
    {
        var now = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(now);
        await using (var db = _factory.CreateDbContext())
        {
            var open = Incident("a", IncidentStatus.Open, now.AddMinutes(-5));
            db.Incidents.AddRange(open, Incident("b", IncidentStatus.Mitigating, now), Incident("c", IncidentStatus.Resolved, now));
            db.Missions.AddRange(
                AwaitingApproval(open.Id, now.AddSeconds(-30), ApprovalStatus.Pending),
                AwaitingApproval(open.Id, now.AddSeconds(-120), ApprovalStatus.Pending),
                AwaitingApproval(open.Id, now.AddSeconds(-900), ApprovalStatus.Approved));
            await db.SaveChangesAsync();
        }

        var snapshot = new TelemetrySnapshot(_factory, clock);

        // Not the reader: nothing to export (not zeros).
        Assert.Null(snapshot.Current);

        await snapshot.RefreshAsync(default);
        Assert.Equal(new TelemetryFigures(2, 2, 120), snapshot.Current);

        // The reader stopped touching them (it moved without telling this instance): they stop being exported.
        clock.Advance(TelemetrySnapshot.HeldFor - TimeSpan.FromSeconds(1));
        snapshot.Renew(); // a failed read keeps the last figures held
        clock.Advance(TelemetrySnapshot.HeldFor - TimeSpan.FromSeconds(1));
        Assert.Equal(2, snapshot.Current?.OpenIncidents);
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Null(snapshot.Current);

        // The reader left (its grain deactivated here): released at once.
        await snapshot.RefreshAsync(default);
        Assert.NotNull(snapshot.Current);
        snapshot.Release();
        Assert.Null(snapshot.Current);
    }
}
