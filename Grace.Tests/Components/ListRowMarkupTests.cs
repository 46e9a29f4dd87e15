using Bunit;
using Grace.Data.Entities;
using Grace.Engine.Notifications;
using Grace.Web.Components.Pages.Audit;
using Grace.Web.Components.Pages.Incidents;
using Grace.Web.Components.Pages.Missions;
using Grace.Web.Components.Shared;
using Grace.Web.Formatting;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Components;

/// <summary>
/// The Incidents, Missions and Audit lists write each row as one markup string (RowMarkup) to keep a
/// circuit small. Text that people and API keys send (sources, messages, audit details) goes into those
/// strings, so every value must arrive encoded: text, never markup.
/// </summary>
public sealed class ListRowMarkupTests : GraceComponentTest
{
    private const string Hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>\"' & done";

    private static void AssertShownAsText(AngleSharp.Dom.IElement row)
    {
        Assert.Empty(row.QuerySelectorAll("script"));
        Assert.Empty(row.QuerySelectorAll("img"));
        Assert.Contains(Hostile, row.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_incident_row_shows_markup_in_its_source_and_message_as_text()
    {
        await using (var db = Factory.CreateDbContext())
        {
            var now = DateTimeOffset.UtcNow;
            db.Incidents.Add(new Incident
            {
                Id = Guid.NewGuid(), Fingerprint = "f-hostile", Source = Hostile, Template = "t", SampleMessage = Hostile, PatternKey = Hostile,
                Severity = Severity.Error, FirstSeenAt = now, LastSeenAt = now, Count = 3, Status = IncidentStatus.Open, AssignedTo = Hostile,
            });
            await db.SaveChangesAsync();
        }

        var cut = Render<Incidents>();
        cut.WaitForAssertion(() =>
        {
            var row = cut.Find("tr.incident-row");
            AssertShownAsText(row);
            Assert.Equal(Hostile, row.QuerySelector("td[data-label=Sample]")!.TextContent);
            Assert.Equal(Hostile, row.QuerySelector("a.incident-link")!.TextContent);
            // The attribute round-trips too: a quote in the source does not end the aria-label early.
            Assert.Equal($"Missions for {Hostile}", row.QuerySelector("a.incident-missions-link")!.GetAttribute("aria-label"));
            Assert.Null(row.QuerySelector("a.incident-missions-link")!.GetAttribute("onerror"));
        });
    }

    [Fact]
    public async Task A_mission_row_shows_markup_in_its_names_as_text()
    {
        await using (var db = Factory.CreateDbContext())
        {
            var now = DateTimeOffset.UtcNow;
            var incident = new Incident
            {
                Id = Guid.NewGuid(), Fingerprint = "f", Source = Hostile, Template = "t", SampleMessage = "m", Severity = Severity.Error,
                FirstSeenAt = now, LastSeenAt = now, Count = 1,
            };
            db.Incidents.Add(incident);
            db.Missions.Add(new Mission
            {
                Id = Guid.NewGuid(), IncidentId = incident.Id, PatternKey = "p", PlaybookKey = Hostile, Action = "cache.clear", Target = Hostile,
                Parameters = "{}", Tier = 1, State = MissionState.Failed, RequestedBy = "engine", CreatedAt = now, UpdatedAt = now,
            });
            await db.SaveChangesAsync();
        }

        var cut = Render<MissionList>();
        cut.WaitForAssertion(() =>
        {
            var row = cut.Find("tr.mission-row");
            AssertShownAsText(row);
            Assert.Equal(Hostile, row.QuerySelector("td[data-label=Target]")!.TextContent);
            Assert.Equal(Hostile, row.QuerySelector("a.mission-incident-link")!.TextContent);
            Assert.Equal("Failed", row.QuerySelector(".mission-state")!.TextContent);
            Assert.Equal("Tier 1", row.QuerySelector(".tier-badge")!.TextContent);
        });
    }

    [Fact]
    public async Task An_audit_row_shows_markup_in_what_was_stored_as_text()
    {
        SignIn("lena", Grace.Engine.Missions.GraceRoles.Lead);
        await using (var db = Factory.CreateDbContext())
        {
            db.AuditEntries.Add(new AuditEntry { At = DateTimeOffset.UtcNow, Actor = Hostile, Action = "mission.reject", Subject = Hostile, Detail = Hostile, RemoteAddress = "10.0.0.7" });
            await db.SaveChangesAsync();
        }

        var cut = Render<AuditLogPage>();
        cut.WaitForAssertion(() =>
        {
            var row = cut.Find("tr.audit-row");
            AssertShownAsText(row);
            Assert.Equal(Hostile, row.QuerySelector("td[data-label='Why / detail']")!.TextContent);
            Assert.Equal(Hostile, row.QuerySelector("td[data-label=Who]")!.TextContent);
        });
    }

    [Fact]
    public void The_row_writer_encodes_text_and_attribute_values()
    {
        var html = new RowMarkup().Cell("Who\" onmouseover=\"x").Text("<b>bold</b> & more").EndCell()
            .Cell("Link").Link("/incidents/1\"><script>", "<i>x</i>", ariaLabel: "a\"b").EndCell().Build().Value;

        Assert.DoesNotContain("<b>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<i>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("\" onmouseover", html, StringComparison.Ordinal);
        Assert.Contains("&lt;b&gt;bold&lt;/b&gt; &amp; more", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rows_are_written_in_the_zone_the_browsers_cookie_names()
    {
        await SeedMissionAsync("zone-check");
        var cut = Render<MissionList>();
        cut.WaitForAssertion(() => Assert.EndsWith(" UTC", cut.Find("tr.mission-row td[data-label=Created] .when").TextContent, StringComparison.Ordinal));

        // The list renders per request: grace.js names the browser's zone in a cookie, and the next render uses it.
        var request = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        request.Request.Headers.Cookie = $"{ViewerClock.ZoneCookie}={Uri.EscapeDataString("Europe/Berlin")}";
        await DisposeComponentsAsync();
        var again = Render<MissionList>(p => p.Add(c => c.Request, request));
        again.WaitForAssertion(() =>
        {
            var when = again.Find("tr.mission-row td[data-label=Created] .when");
            Assert.DoesNotContain("UTC", when.TextContent, StringComparison.Ordinal);
            Assert.Contains("Europe/Berlin", when.GetAttribute("title"), StringComparison.Ordinal);
        });
    }

    [Theory]
    [InlineData("Mars/Olympus_Mons")]
    [InlineData("<script>alert(1)</script>")]
    public async Task A_zone_cookie_this_server_does_not_know_leaves_times_in_utc(string zone)
    {
        await SeedMissionAsync("zone-check");
        var request = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        request.Request.Headers.Cookie = $"{ViewerClock.ZoneCookie}={Uri.EscapeDataString(zone)}";
        var cut = Render<MissionList>(p => p.Add(c => c.Request, request));
        cut.WaitForAssertion(() => Assert.EndsWith(" UTC", cut.Find("tr.mission-row td[data-label=Created] .when").TextContent, StringComparison.Ordinal));
    }
}
