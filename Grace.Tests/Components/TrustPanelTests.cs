using Bunit;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Web.Components.Learning;

namespace Grace.Tests.Components;

/// <summary>The earned-autonomy panel of the Learning page: the distance in words, who sees the decision buttons, and its one reason form.</summary>
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

    private async Task<Guid> OpenSuggestionAsync()
    {
        var id = Guid.NewGuid();
        await using var db = Factory.CreateDbContext();
        db.TierSuggestions.Add(new TierSuggestion
        {
            Id = id, PlaybookKey = "test-clear-cache", FromTier = 2, ToTier = 1, Runs = 40, Successes = 40, LowerBound = 0.912,
            RunsSinceRollback = 40, Status = TierSuggestionStatus.Open, CreatedAt = DateTimeOffset.UtcNow,
        });
        await db.SaveChangesAsync();
        return id;
    }

    private static AngleSharp.Dom.IElement Row(IRenderedComponent<TrustPanel> cut, string playbook) =>
        cut.FindAll("tr").Single(r => r.QuerySelector(".trust-playbook")?.TextContent == playbook);

    [Fact]
    public async Task Declining_without_a_reason_is_refused_with_a_message_and_with_one_it_is_declined_and_audited()
    {
        SignIn("lena", GraceRoles.Lead);
        var id = await OpenSuggestionAsync();
        var cut = Render<TrustPanel>();
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll(".trust-decline")));

        Row(cut, "test-clear-cache").QuerySelector(".trust-decline")!.Click();
        Assert.Contains("Decline the suggestion for 'test-clear-cache'", cut.Find("#trust-form-what").TextContent);
        Assert.Equal("Reason (required)", cut.Find("label[for=trust-reason]").TextContent);
        Assert.Equal("Decline", cut.Find(".trust-confirm").TextContent);

        await cut.Find(".trust-confirm").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Equal("Declining a suggestion needs a reason.", cut.Find("#trust-form-error").TextContent));
        Assert.Equal("true", cut.Find("#trust-reason").GetAttribute("aria-invalid"));
        await using (var db = Factory.CreateDbContext())
        {
            Assert.Equal(TierSuggestionStatus.Open, db.TierSuggestions.Single(t => t.Id == id).Status);
            Assert.DoesNotContain(db.AuditEntries, a => a.Action == "playbook.tier-suggestion.decline");
        }

        cut.Find("#trust-reason").Input("not before the quarter closes");
        await cut.Find(".trust-confirm").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll(".trust-decline")));
        await using (var db = Factory.CreateDbContext())
        {
            var declined = db.TierSuggestions.Single(t => t.Id == id);
            Assert.Equal((TierSuggestionStatus.Declined, "lena", "not before the quarter closes"), (declined.Status, declined.DecidedBy, declined.Reason));
            var audit = Assert.Single(db.AuditEntries, a => a.Action == "playbook.tier-suggestion.decline");
            Assert.Equal(("lena", "playbook/test-clear-cache"), (audit.Actor, audit.Subject));
            Assert.Contains("Reason: not before the quarter closes", audit.Detail);
        }

        // The form is idle again, its reason gone.
        Assert.Empty(cut.FindAll("#trust-form-error"));
        Assert.True(cut.Find("#trust-reason").HasAttribute("disabled"));
        Assert.True(string.IsNullOrEmpty(cut.Find("#trust-reason").GetAttribute("value")));
    }

    [Fact]
    public async Task Shadowing_a_playbook_needs_a_reason_and_with_one_it_runs_in_shadow_audited()
    {
        SignIn("ada", GraceRoles.Admin);
        var cut = Render<TrustPanel>();
        cut.WaitForAssertion(() => Assert.NotNull(Row(cut, "test-clear-cache").QuerySelector(".trust-shadow-toggle")));

        Row(cut, "test-clear-cache").QuerySelector(".trust-shadow-toggle")!.Click();
        Assert.Contains("Run 'test-clear-cache' in shadow", cut.Find("#trust-form-what").TextContent);
        cut.Find("#trust-reason").Input("   ");
        await cut.Find(".trust-confirm").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Equal("Changing shadow mode needs a reason.", cut.Find("#trust-form-error").TextContent));
        await using (var db = Factory.CreateDbContext())
        {
            Assert.DoesNotContain(db.AuditEntries, a => a.Action == "playbook.shadow");
        }

        // Cancel forgets the pick; picking again and giving a reason shadows the playbook, as the per-row fields did.
        cut.Find(".trust-cancel").Click();
        Assert.True(cut.Find(".trust-confirm").HasAttribute("disabled"));
        Row(cut, "test-clear-cache").QuerySelector(".trust-shadow-toggle")!.Click();
        cut.Find("#trust-reason").Input("watch it for a week");
        await cut.Find(".trust-confirm").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("shadow", Row(cut, "test-clear-cache").QuerySelector(".trust-shadow")!.TextContent));
        Assert.Equal("Let it act", Row(cut, "test-clear-cache").QuerySelector(".trust-shadow-toggle")!.TextContent);
        await using (var db = Factory.CreateDbContext())
        {
            var audit = Assert.Single(db.AuditEntries, a => a.Action == "playbook.shadow");
            Assert.Equal(("ada", "playbook/test-clear-cache", "shadow off → on: watch it for a week"), (audit.Actor, audit.Subject, audit.Detail));
        }
    }
}
