using Bunit;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Web.Components.Pages.Suggestions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Components;

/// <summary>Issue 15: the Suggested patterns page shows a suggestion's evidence, exports it as catalog JSON and dismisses it.</summary>
public sealed class SuggestedPatternsPageTests : GraceComponentTest
{
    private async Task<Guid> SeedAsync()
    {
        var id = Guid.NewGuid();
        await using var db = await Factory.CreateDbContextAsync();
        db.PatternSuggestions.Add(new PatternSuggestion
        {
            Id = id, Template = "Connection refused to <*> after <*> attempts", MessageRegex = @"^\s*Connection\s+refused\s+to\s+(.+?)\s+after\s+(.+?)\s+attempts\s*$",
            Source = "orders-api", SourceShared = true, MinimumSeverity = Severity.Error, IncidentCount = 3, SignalCount = 41,
            Samples = """["Connection refused to db-1:5432 after 3 attempts"]""",
            CandidatePlaybooks = """[{"Playbook":"test-checkpoint","Pattern":"test-wal","Similarity":0.5,"Successes":2}]""",
            FirstSeenAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        });
        await db.SaveChangesAsync();
        return id;
    }

    [Fact]
    public async Task A_lead_sees_the_evidence_exports_the_catalog_entry_and_dismisses_it()
    {
        var id = await SeedAsync();
        SignIn("lena", GraceRoles.Lead);
        var cut = Render<SuggestedPatterns>();
        cut.WaitForAssertion(() => Assert.Contains("Connection refused to <*> after <*> attempts", cut.Find(".suggestion-template").TextContent));
        Assert.Contains("3 incidents · 41 signals", cut.Find(".suggestion-counts").TextContent);
        var candidates = cut.Find(".suggestion-candidates").TextContent;
        Assert.Contains("test-checkpoint (50", candidates);
        Assert.Contains("alike, 2 healed, pattern test-wal)", candidates);

        cut.Find(".suggestion-export").Click();
        cut.WaitForAssertion(() =>
        {
            var json = cut.Find(".suggestion-json").TextContent;
            Assert.Contains("\"suggested-connection-refused-to-after\"", json);
            Assert.Contains("\"test-checkpoint\"", json);
        });

        OverviewTests.InputOf(cut, ".suggestion-reason").Change("a partner's outage, not ours");
        cut.Find(".suggestion-dismiss").Click();
        cut.WaitForAssertion(() => cut.Find("#suggestions-empty"));
        await using var db = await Factory.CreateDbContextAsync();
        var row = await db.PatternSuggestions.AsNoTracking().SingleAsync(p => p.Id == id);
        Assert.Equal(SuggestionStatus.Dismissed, row.Status);
        Assert.Equal("lena", row.DismissedBy);
        Assert.Equal(2, await db.AuditEntries.CountAsync(a => a.Action.StartsWith("pattern-suggestion.")));
    }

    [Fact]
    public async Task An_operator_is_refused_by_the_service_even_on_the_page()
    {
        await SeedAsync();
        SignIn("otto", GraceRoles.Operator);
        var cut = Render<SuggestedPatterns>();
        cut.WaitForAssertion(() => cut.Find(".suggestion-export"));
        cut.Find(".suggestion-export").Click();
        var snackbar = Services.GetRequiredService<MudBlazor.ISnackbar>();
        cut.WaitForAssertion(() => Assert.Contains(snackbar.ShownSnackbars, s => s.Message!.Contains("needs the Lead or Admin role", StringComparison.Ordinal)));
        Assert.Empty(cut.FindAll(".suggestion-json"));
    }
}
