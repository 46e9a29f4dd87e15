using Grace.Data;
using Grace.Data.Entities;
using Grace.Tests.Infrastructure;
using Grace.Web.Components.Charts;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>The chart read models translate and count alike on SQLite and PostgreSQL, and cut days in the viewer's zone.</summary>
public abstract class ChartQueriesTests(DatabaseProvider provider) : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private Factory _factory = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(provider, _folder);
        _factory = new Factory(provider, _database.ConnectionString!);
        await using var db = _factory.CreateDbContext();
        await db.Database.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private sealed class Factory(DatabaseProvider provider, string connectionString) : IDbContextFactory<GraceDbContext>
    {
        public GraceDbContext CreateDbContext() => provider == DatabaseProvider.Postgres
            ? new PostgresGraceDbContext(new DbContextOptionsBuilder<PostgresGraceDbContext>().UseNpgsql(connectionString).Options)
            : new SqliteGraceDbContext(new DbContextOptionsBuilder<SqliteGraceDbContext>().UseSqlite(connectionString).Options);
    }

    private static Mission Mission(MissionState state, DateTimeOffset? completedAt, DateTimeOffset updatedAt, ContractVerdict verdict, Guid incident) => new()
    {
        Id = Guid.NewGuid(), IncidentId = incident, PatternKey = "p", PlaybookKey = "clear", Action = "cache.clear", Target = "t", Parameters = "{}",
        State = state, RequestedBy = "engine", CreatedAt = updatedAt, UpdatedAt = updatedAt, CompletedAt = completedAt,
        Contract = new ActionContract { Id = Guid.NewGuid(), Probe = "directory.bytes", Target = "t", Description = "d", Verdict = verdict },
    };

    [Fact]
    public async Task Verification_counts_missions_by_how_they_ended_on_the_viewers_day()
    {
        // 23:30 UTC on Nov 29 is already Nov 30 in Berlin (UTC+1).
        var now = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
        var lateEvening = new DateTimeOffset(2026, 11, 29, 23, 30, 0, TimeSpan.Zero);
        await using (var db = _factory.CreateDbContext())
        {
            var incident = new Incident
            {
                Id = Guid.NewGuid(), Fingerprint = "f", Source = "s", Template = "t", SampleMessage = "m", Severity = Severity.Error,
                FirstSeenAt = now, LastSeenAt = now, Count = 1, Status = IncidentStatus.Open,
            };
            db.Incidents.Add(incident);
            db.Missions.AddRange(
                Mission(MissionState.Succeeded, lateEvening, lateEvening, ContractVerdict.Met, incident.Id),
                Mission(MissionState.Succeeded, now, now, ContractVerdict.Met, incident.Id),
                Mission(MissionState.Failed, now, now, ContractVerdict.Pending, incident.Id),
                Mission(MissionState.RolledBack, now, now, ContractVerdict.Failed, incident.Id),
                Mission(MissionState.RolledBack, null, now, ContractVerdict.Met, incident.Id),
                Mission(MissionState.Expired, now, now, ContractVerdict.Pending, incident.Id),
                Mission(MissionState.Verifying, null, now, ContractVerdict.Pending, incident.Id),
                Mission(MissionState.Succeeded, now.AddDays(-40), now.AddDays(-40), ContractVerdict.Met, incident.Id));
            await db.SaveChangesAsync();
        }

        var queries = new ChartQueries(_factory);
        var utc = await queries.VerificationAsync(now, 30, TimeZoneInfo.Utc, CancellationToken.None);
        Assert.Equal((2, 3, 1, 1, 1), (utc.Met, utc.Failed, utc.NotActed, utc.ContractsFailed, utc.FailedBeforeContract));
        Assert.Equal([new VerificationDay(new DateOnly(2026, 11, 29), 1, 0), new VerificationDay(new DateOnly(2026, 11, 30), 1, 3)], utc.Days);
        var berlin = await queries.VerificationAsync(now, 30, TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin"), CancellationToken.None);
        Assert.Equal([new VerificationDay(new DateOnly(2026, 11, 30), 2, 3)], berlin.Days);
    }

    [Fact]
    public async Task Trend_and_recovery_times_come_from_the_outcomes_of_the_period()
    {
        var now = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
        await using (var db = _factory.CreateDbContext())
        {
            OutcomeRecord Outcome(string playbook, bool success, double? ttr, DateTimeOffset at) => new()
            {
                Id = Guid.NewGuid(), MissionId = Guid.NewGuid(), PatternKey = "p", PlaybookKey = playbook, Target = "t",
                FinalState = success ? MissionState.Succeeded : MissionState.RolledBack, Success = success, TimeToRecoverSeconds = ttr, At = at,
            };
            db.Outcomes.AddRange(
                Outcome("a", true, 10, now.AddDays(-1)), Outcome("a", false, null, now.AddDays(-1)), Outcome("a", true, 30, now),
                Outcome("b", true, 20, now), Outcome("a", true, 99, now.AddDays(-60)));
            await db.SaveChangesAsync();
        }

        var queries = new ChartQueries(_factory);
        var trend = await queries.PlaybookTrendAsync(now, 30, TimeZoneInfo.Utc, CancellationToken.None);
        Assert.Equal(["Nov 29", "Nov 30"], trend.Buckets.Select(b => b.Label));
        Assert.Equal([50.0, 100.0], trend.SuccessPercent["a"]);
        Assert.Equal([null, 100.0], trend.SuccessPercent["b"]);
        Assert.Equal([2.0, 1.0], trend.Runs["a"]);
        var weekly = await queries.PlaybookTrendAsync(now, 90, TimeZoneInfo.Utc, CancellationToken.None);
        Assert.True(weekly.Weekly);
        // Weeks from the period's start (Sep 1), from the week of the oldest outcome (Oct 1) to this one.
        Assert.Equal(9, weekly.Buckets.Count);
        Assert.Equal("wk Sep 29", weekly.Buckets[0].Label);
        Assert.Equal([1.0, 0, 0, 0, 0, 0, 0, 0, 3], weekly.Runs["a"]);
        var times = Assert.Single(await queries.RecoveryTimesAsync(now, 30, CancellationToken.None));
        Assert.Equal(("p", 20.0, 30.0, 3), (times.PatternKey, times.MedianSeconds, times.P90Seconds, times.Recoveries));
    }
}

public sealed class SqliteChartQueriesTests() : ChartQueriesTests(DatabaseProvider.Sqlite);

public sealed class PostgresChartQueriesTests() : ChartQueriesTests(DatabaseProvider.Postgres);
