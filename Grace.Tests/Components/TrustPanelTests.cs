using Bunit;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Web.Components.Learning;

namespace Grace.Tests.Components;

/// <summary>
/// The earned-autonomy panel of the Learning page as it renders: the distance in words, who sees the decision links, and
/// its one reason form idle until a link picks a decision. Deciding, through the real host: <c>TrustDecisionFormTests</c>.
/// </summary>
public sealed class TrustPanelTests : GraceComponentTest
{
    [Fact]
    public void Each_playbook_shows_how_far_it_is_from_the_next_tier_and_an_Operator_sees_no_buttons()
    {
        var cut = Render<TrustPanel>();
        cut.WaitForAssertion(() =>
        {
            var row = cut.FindAll("tr").Single(r => r.QuerySelector(".trust-playbook")?.TextContent == "test-clear-cache");
            // Tier 2, never run: with the default rule a flawless record needs 35 runs.
            Assert.StartsWith("Needs 35 more successful runs in a row for tier 1 (0 of 20 runs; lower bound 0.00, needs 0.90)", row.QuerySelector(".trust-distance")!.TextContent);
            Assert.Contains("none", row.QuerySelector(".trust-suggestion")!.TextContent);
        });
        Assert.Empty(cut.FindAll(".trust-accept"));
        Assert.Empty(cut.FindAll(".trust-shadow-toggle"));
        Assert.Empty(cut.FindAll("#trust-form"));
        Assert.Empty(cut.FindAll("input"));
    }

    [Fact]
    public async Task A_Lead_sees_an_open_suggestion_with_accept_and_decline()
    {
        SignIn("lena", GraceRoles.Lead);
        await using (var db = Factory.CreateDbContext())
        {
            db.TierSuggestions.Add(new TierSuggestion
            {
                Id = Guid.NewGuid(), PlaybookKey = "test-clear-cache", FromTier = 2, ToTier = 1, Runs = 40, Successes = 40, LowerBound = 0.912,
                RunsSinceRollback = 40, Status = TierSuggestionStatus.Open, CreatedAt = DateTimeOffset.UtcNow,
            });
            await db.SaveChangesAsync();
        }

        var cut = Render<TrustPanel>();
        cut.WaitForAssertion(() =>
        {
            var row = cut.FindAll("tr").Single(r => r.QuerySelector(".trust-playbook")?.TextContent == "test-clear-cache");
            Assert.Contains("Tier 2 → 1 (40 runs, lower bound 0.91)", row.QuerySelector(".trust-suggestion")!.TextContent);
            Assert.Single(cut.FindAll(".trust-accept"));
            Assert.Single(cut.FindAll(".trust-decline"));
        });
        // One reason field for the whole table, labelled, and idle until a row's button picks what to do.
        Assert.Single(cut.FindAll("input#trust-reason"));
        Assert.NotNull(cut.Find("label[for=trust-reason]"));
        Assert.True(cut.Find("#trust-reason").HasAttribute("disabled"));
        Assert.True(cut.Find(".trust-confirm").HasAttribute("disabled"));
    }
}
