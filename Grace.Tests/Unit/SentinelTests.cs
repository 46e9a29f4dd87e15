using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Unit;

public sealed class SentinelTests
{
    private static readonly Signal Locked = new("orders-api", "SQLite Error 5: 'database is locked'.", Severity.Error, DateTimeOffset.UtcNow,
        ExceptionType: "Microsoft.Data.Sqlite.SqliteException", Labels: new Dictionary<string, string> { ["env"] = "prod" });

    [Fact]
    public void Every_criterion_set_must_match()
    {
        var pattern = new PatternOptions
        {
            ExceptionType = "SqliteException",
            MessageRegex = "database is locked",
            Source = "orders",
            Labels = new Dictionary<string, string> { ["env"] = "prod" },
        };
        Assert.True(Sentinel.Matches(pattern, Locked));
        Assert.False(Sentinel.Matches(pattern, Locked with { Source = "billing" }));
        Assert.False(Sentinel.Matches(pattern, Locked with { ExceptionType = "System.TimeoutException" }));
        Assert.False(Sentinel.Matches(pattern, Locked with { Message = "disk full" }));
        Assert.False(Sentinel.Matches(pattern, Locked with { Labels = new Dictionary<string, string> { ["env"] = "staging" } }));
    }

    [Fact]
    public void Severity_below_the_minimum_does_not_match()
    {
        var pattern = new PatternOptions { MessageRegex = "locked", MinimumSeverity = Severity.Critical };
        Assert.False(Sentinel.Matches(pattern, Locked));
        Assert.True(Sentinel.Matches(pattern, Locked with { Severity = Severity.Critical }));
    }

    [Fact]
    public void Exception_type_matches_by_full_or_simple_name()
    {
        Assert.True(Sentinel.Matches(new PatternOptions { ExceptionType = "Microsoft.Data.Sqlite.SqliteException" }, Locked));
        Assert.True(Sentinel.Matches(new PatternOptions { ExceptionType = "sqliteexception" }, Locked));
        Assert.False(Sentinel.Matches(new PatternOptions { ExceptionType = "Exception" }, Locked));
    }

    [Fact]
    public async Task A_pattern_with_one_playbook_is_diagnosed_without_reading_the_playbook_statistics()
    {
        var catalog = new CatalogOptions();
        catalog.Playbooks["checkpoint"] = new PlaybookOptions { Action = "sqlite.wal-checkpoint" };
        catalog.Playbooks["vacuum"] = new PlaybookOptions { Action = "sqlite.vacuum" };
        catalog.Patterns["locked"] = new PatternOptions { MessageRegex = "database is locked", Playbooks = ["checkpoint", "not-configured"] };
        var sentinel = new Sentinel(new FixedOptionsMonitor<CatalogOptions>(catalog), new NoDatabase());

        // Nothing to choose between: no connection is asked for (ADR 0036).
        var diagnosis = await sentinel.DiagnoseAsync(Locked, default);
        Assert.NotNull(diagnosis);
        Assert.Equal("locked", diagnosis.PatternKey);
        Assert.Equal(["checkpoint"], diagnosis.RankedPlaybooks);

        // Two candidates are ranked by what was learned: that needs the statistics.
        catalog.Patterns["locked"].Playbooks.Add("vacuum");
        var read = await Assert.ThrowsAsync<InvalidOperationException>(() => sentinel.DiagnoseAsync(Locked, default));
        Assert.Equal(NoDatabase.Message, read.Message);
    }

    private sealed class NoDatabase : IDbContextFactory<GraceDbContext>
    {
        public const string Message = "The sentinel asked for the database.";

        public GraceDbContext CreateDbContext() => throw new InvalidOperationException(Message);
    }
}
