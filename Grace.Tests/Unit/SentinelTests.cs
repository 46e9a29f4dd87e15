using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;

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
}
