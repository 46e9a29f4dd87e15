using System.Net;
using AngleSharp.Html.Parser;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>
/// The Learning page's trust decisions, through the real host as a browser sends them: a row's link picks the
/// decision, the form posts the reason with its antiforgery token, a decision that went through redirects (post,
/// redirect, get) and one that was refused shows the form again with the message (ADR 0037). No circuit is involved.
/// </summary>
public sealed class TrustDecisionFormTests : IAsyncLifetime
{
    private const string Password = "Trust-Form-Password-1";
    private const string Playbook = "test-clear-cache";
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings())).Start();
        await _host.CreateUserAsync("lena", Password, GraceRoles.Lead);
        await _host.CreateUserAsync("ada", Password, GraceRoles.Admin);
        await _host.CreateUserAsync("olivia", Password, GraceRoles.Operator);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    /// <summary>A signed-in person's browser: its cookies (session and antiforgery), and no automatic redirects.</summary>
    private sealed class Browser(HttpClient client, Dictionary<string, string> cookies) : IDisposable
    {
        public async Task<(HttpStatusCode Status, AngleSharp.Html.Dom.IHtmlDocument Page, Uri? Location)> SendAsync(HttpMethod method, string path, Dictionary<string, string>? form = null)
        {
            using var request = new HttpRequestMessage(method, path);
            if (form is not null)
            {
                request.Content = new FormUrlEncodedContent(form);
            }

            request.Headers.Add("Cookie", string.Join("; ", cookies.Select(c => $"{c.Key}={c.Value}")));
            using var response = await client.SendAsync(request);
            foreach (var set in response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [])
            {
                var pair = set.Split(';')[0].Split('=', 2);
                cookies[pair[0]] = pair[1];
            }

            var page = new HtmlParser().ParseDocument(await response.Content.ReadAsStringAsync());
            return (response.StatusCode, page, response.Headers.Location);
        }

        public async Task<AngleSharp.Html.Dom.IHtmlDocument> GetAsync(string path)
        {
            var (status, page, _) = await SendAsync(HttpMethod.Get, path);
            Assert.Equal(HttpStatusCode.OK, status);
            return page;
        }

        /// <summary>Posts the page's trust form as a browser would: its action, its hidden fields, and the reason typed.</summary>
        public Task<(HttpStatusCode Status, AngleSharp.Html.Dom.IHtmlDocument Page, Uri? Location)> SubmitAsync(AngleSharp.Html.Dom.IHtmlDocument page, string? reason)
        {
            var form = (AngleSharp.Html.Dom.IHtmlFormElement)page.QuerySelector("form#trust-form")!;
            var fields = form.QuerySelectorAll("input[type=hidden]").Cast<AngleSharp.Html.Dom.IHtmlInputElement>().ToDictionary(i => i.Name!, i => i.Value);
            fields["Reason"] = reason ?? "";
            return SendAsync(HttpMethod.Post, form.GetAttribute("action")!, fields);
        }

        public void Dispose() => client.Dispose();
    }

    private async Task<Browser> SignInAsync(string userName)
    {
        var cookie = await _host.SignInAsync(userName, Password);
        var cookies = cookie.Split("; ").Select(c => c.Split('=', 2)).GroupBy(c => c[0]).ToDictionary(g => g.Key, g => g.Last()[1]);
        return new Browser(_host.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false }), cookies);
    }

    private async Task<Guid> OpenSuggestionAsync()
    {
        var id = Guid.NewGuid();
        await using var db = _host.CreateDb();
        db.TierSuggestions.Add(new TierSuggestion
        {
            Id = id, PlaybookKey = Playbook, FromTier = 2, ToTier = 1, Runs = 40, Successes = 40, LowerBound = 0.912,
            RunsSinceRollback = 40, Status = TierSuggestionStatus.Open, CreatedAt = DateTimeOffset.UtcNow,
        });
        await db.SaveChangesAsync();
        return id;
    }

    private static AngleSharp.Dom.IElement Row(AngleSharp.Html.Dom.IHtmlDocument page, string playbook) =>
        page.QuerySelectorAll("#trust-table tr").Single(r => r.QuerySelector(".trust-playbook")?.TextContent == playbook);

    [Fact]
    public async Task A_Lead_declines_a_suggestion_a_reason_is_asked_for_then_it_is_declined_audited_and_the_page_redirected()
    {
        var id = await OpenSuggestionAsync();
        using var lena = await SignInAsync("lena");

        // Idle: one reason field for the table, disabled until a row's link picks a decision.
        var learning = await lena.GetAsync("/learning?days=7");
        Assert.True(learning.QuerySelector("#trust-reason")!.HasAttribute("disabled"));
        var decline = Row(learning, Playbook).QuerySelector("a.trust-decline")!.GetAttribute("href")!;
        Assert.Equal($"/learning?days=7&decide=Decline&playbook={Playbook}&suggestion={id}#trust-form", decline);

        var picked = await lena.GetAsync(decline);
        Assert.Contains($"Decline the suggestion for '{Playbook}'", picked.QuerySelector("#trust-form-what")!.TextContent);
        Assert.Equal("Reason (required)", picked.QuerySelector("label[for=trust-reason]")!.TextContent);
        Assert.False(picked.QuerySelector("#trust-reason")!.HasAttribute("disabled"));
        Assert.True(picked.QuerySelector("#trust-reason")!.HasAttribute("autofocus"));
        Assert.Equal("Decline", picked.QuerySelector(".trust-confirm")!.TextContent);
        Assert.Equal("/learning?days=7", picked.QuerySelector(".trust-cancel")!.GetAttribute("href"));

        // No reason: refused at the form, nothing changed, the decision still picked.
        var (status, refused, _) = await lena.SubmitAsync(picked, "  ");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Declining a suggestion needs a reason.", refused.QuerySelector("#trust-form-error")!.TextContent);
        Assert.Equal("true", refused.QuerySelector("#trust-reason")!.GetAttribute("aria-invalid"));
        Assert.Contains($"Decline the suggestion for '{Playbook}'", refused.QuerySelector("#trust-form-what")!.TextContent);
        await using (var db = _host.CreateDb())
        {
            Assert.Equal(TierSuggestionStatus.Open, (await db.TierSuggestions.SingleAsync(t => t.Id == id)).Status);
            Assert.False(await db.AuditEntries.AnyAsync(a => a.Action == "playbook.tier-suggestion.decline"));
        }

        // With a reason: declined, audited under the person's name, and the browser sent back to the page.
        var (posted, _, location) = await lena.SubmitAsync(refused, "not before the quarter closes");
        Assert.Equal(HttpStatusCode.Redirect, posted);
        Assert.Equal($"/learning?days=7&decided=Decline&playbook={Playbook}", location?.OriginalString);
        await using (var db = _host.CreateDb())
        {
            var declined = await db.TierSuggestions.SingleAsync(t => t.Id == id);
            Assert.Equal((TierSuggestionStatus.Declined, "lena", "not before the quarter closes"), (declined.Status, declined.DecidedBy, declined.Reason));
            var audit = await db.AuditEntries.SingleAsync(a => a.Action == "playbook.tier-suggestion.decline");
            Assert.Equal(("lena", $"playbook/{Playbook}"), (audit.Actor, audit.Subject));
            Assert.Contains("Reason: not before the quarter closes", audit.Detail);
        }

        var after = await lena.GetAsync(location!.OriginalString);
        Assert.Equal($"Declined: '{Playbook}' stays on tier 2.", after.QuerySelector("#trust-done")!.TextContent.Trim());
        Assert.Empty(after.QuerySelectorAll(".trust-decline"));
        Assert.True(after.QuerySelector("#trust-reason")!.HasAttribute("disabled"));

        // The old pick, opened again (a back button, a second tab): the suggestion is decided, so nothing is picked
        // and posting it is refused with a message rather than deciding anything.
        var stale = await lena.GetAsync(decline);
        Assert.True(stale.QuerySelector("#trust-reason")!.HasAttribute("disabled"));
        var (staleStatus, staleAnswer, _) = await lena.SubmitAsync(stale, "again");
        Assert.Equal(HttpStatusCode.OK, staleStatus);
        Assert.Equal("That decision is no longer open: the table below shows where things stand now.", staleAnswer.QuerySelector("#trust-form-error")!.TextContent);
        await using (var db = _host.CreateDb())
        {
            Assert.Equal(1, await db.AuditEntries.CountAsync(a => a.Action == "playbook.tier-suggestion.decline"));
        }
    }

    [Fact]
    public async Task An_Admin_puts_a_playbook_in_shadow_with_a_reason_and_lets_it_act_again()
    {
        using var ada = await SignInAsync("ada");
        var learning = await ada.GetAsync("/learning");
        var shadow = Row(learning, Playbook).QuerySelector("a.trust-shadow-toggle")!;
        Assert.Equal("Shadow it", shadow.TextContent);

        var picked = await ada.GetAsync(shadow.GetAttribute("href")!);
        Assert.Contains($"Run '{Playbook}' in shadow", picked.QuerySelector("#trust-form-what")!.TextContent);
        var (status, _, location) = await ada.SubmitAsync(picked, "watch it for a week");
        Assert.Equal(HttpStatusCode.Redirect, status);

        var after = await ada.GetAsync(location!.OriginalString);
        Assert.Contains("runs in shadow", after.QuerySelector("#trust-done")!.TextContent);
        Assert.Contains("shadow", Row(after, Playbook).QuerySelector(".trust-shadow")!.TextContent);
        var letAct = Row(after, Playbook).QuerySelector("a.trust-shadow-toggle")!;
        Assert.Equal("Let it act", letAct.TextContent);
        await using (var db = _host.CreateDb())
        {
            var audit = await db.AuditEntries.SingleAsync(a => a.Action == "playbook.shadow");
            Assert.Equal(("ada", $"playbook/{Playbook}", "shadow off → on: watch it for a week"), (audit.Actor, audit.Subject, audit.Detail));
        }

        var (again, _, _) = await ada.SubmitAsync(await ada.GetAsync(letAct.GetAttribute("href")!), "a week was enough");
        Assert.Equal(HttpStatusCode.Redirect, again);
        await using (var db = _host.CreateDb())
        {
            Assert.Equal(2, await db.AuditEntries.CountAsync(a => a.Action == "playbook.shadow"));
        }
    }

    [Fact]
    public async Task A_post_without_the_antiforgery_token_is_refused_and_changes_nothing()
    {
        var id = await OpenSuggestionAsync();
        using var lena = await SignInAsync("lena");
        var picked = await lena.GetAsync($"/learning?decide=Accept&playbook={Playbook}&suggestion={id}");
        var fields = picked.QuerySelectorAll("form#trust-form input[type=hidden]").Cast<AngleSharp.Html.Dom.IHtmlInputElement>()
            .Where(i => i.Name != "__RequestVerificationToken").ToDictionary(i => i.Name!, i => i.Value);
        fields["Reason"] = "a cross-site form";

        var (status, _, _) = await lena.SendAsync(HttpMethod.Post, $"/learning?decide=Accept&playbook={Playbook}&suggestion={id}", fields);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        await using var db = _host.CreateDb();
        Assert.Equal(TierSuggestionStatus.Open, (await db.TierSuggestions.SingleAsync(t => t.Id == id)).Status);
    }

    [Fact]
    public async Task An_Operator_sees_no_decisions_and_a_post_of_one_changes_nothing()
    {
        var id = await OpenSuggestionAsync();
        using var olivia = await SignInAsync("olivia");
        var picked = await olivia.GetAsync($"/learning?decide=Accept&playbook={Playbook}&suggestion={id}");
        Assert.Null(picked.QuerySelector("#trust-form"));
        Assert.Empty(picked.QuerySelectorAll(".trust-accept, .trust-decline, .trust-shadow-toggle"));
        Assert.Contains("Tier 2 → 1", Row(picked, Playbook).QuerySelector(".trust-suggestion")!.TextContent);

        // A valid token for this person (from the password page's form), and the form's fields written by hand.
        var password = await olivia.GetAsync("/account/password");
        var token = password.QuerySelector("input[name=__RequestVerificationToken]")!.GetAttribute("value")!;
        var (status, answer, _) = await olivia.SendAsync(HttpMethod.Post, $"/learning?decide=Accept&playbook={Playbook}&suggestion={id}", new()
        {
            ["__RequestVerificationToken"] = token, ["_handler"] = "trust-decision", ["Reason"] = "let me",
        });
        Assert.NotEqual(HttpStatusCode.Redirect, status);
        Assert.Null(answer.QuerySelector("#trust-done"));
        await using var db = _host.CreateDb();
        Assert.Equal(TierSuggestionStatus.Open, (await db.TierSuggestions.SingleAsync(t => t.Id == id)).Status);
        Assert.False(await db.AuditEntries.AnyAsync(a => a.Action.StartsWith("playbook.")));
    }
}
