using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>Ingestion over HTTP: keys, limits, Alertmanager payloads, bad input.</summary>
public sealed class IngestionTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Ingestion:MaxBodyBytes"] = "4096",
            ["Grace:Ingestion:RequestsPerSecondPerKey"] = "1",
            ["Grace:Ingestion:BurstPerKey"] = "3",
        })).Start();
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private static readonly object OneSignal = new { source = "orders", message = "boom" };
    private static readonly Actor Admin = new("ada", [GraceRoles.Admin]);

    private HttpClient ClientWithKey(string key)
    {
        var client = _host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    [Fact]
    public async Task Without_a_key_401_with_an_unknown_key_401_with_a_revoked_key_403()
    {
        using var anonymous = _host.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/api/signals", OneSignal)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/api/alertmanager", new { })).StatusCode);

        using var forged = ClientWithKey("grace_deadbeef_notarealsecretatall");
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.PostAsJsonAsync("/api/signals", OneSignal)).StatusCode);

        var keys = _host.Get<ApiKeyService>();
        var (row, key) = await keys.CreateAsync("orders-api", Admin, default);
        using var client = ClientWithKey(key);
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/signals", OneSignal)).StatusCode);

        await keys.RevokeAsync(row.Id, Admin, default);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsJsonAsync("/api/signals", OneSignal)).StatusCode);

        await using var db = _host.CreateDb();
        var stored = await db.ApiKeys.SingleAsync(k => k.Id == row.Id);
        Assert.NotEqual(key, stored.Hash);
        Assert.DoesNotContain(key[(key.LastIndexOf('_') + 1)..], stored.Hash, StringComparison.Ordinal);
        Assert.Contains(await db.AuditEntries.ToListAsync(), a => a.Action == "api-key.revoke" && a.Actor == "ada");
    }

    [Fact]
    public async Task A_key_revoked_on_another_instance_is_refused_here_as_soon_as_its_change_arrives()
    {
        var keys = _host.Get<ApiKeyService>();
        var (row, key) = await keys.CreateAsync("orders-api", Admin, default);
        using var client = ClientWithKey(key);
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/signals", OneSignal)).StatusCode); // Now cached here.

        // Another instance revokes it: the row changes in the shared database, not in this instance's cache.
        await using (var db = _host.CreateDb())
        {
            var stored = await db.ApiKeys.SingleAsync(k => k.Id == row.Id);
            stored.RevokedAt = DateTimeOffset.UtcNow;
            await db.SaveChangesAsync();
        }

        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/signals", OneSignal)).StatusCode); // The cache still says yes...
        // ...until that instance's change arrives through the cluster relay, as InstanceGrain delivers it.
        _host.Get<Grace.Engine.Notifications.IPipelineNotifier>().Deliver(new Grace.Engine.Notifications.ApiKeysChanged(DateTimeOffset.UtcNow));
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsJsonAsync("/api/signals", OneSignal)).StatusCode);
    }

    [Fact]
    public async Task An_admin_revokes_a_key_over_the_api_and_an_unknown_id_is_404()
    {
        var (row, key) = await _host.Get<ApiKeyService>().CreateAsync("terminal-revoke", Admin, default);
        using var admin = _host.ClientWithCookie(await _host.SignInAsync("admin", TestCatalog.AdminPassword));
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/keys/{row.Id}")).StatusCode);
        using var client = ClientWithKey(key);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsJsonAsync("/api/signals", OneSignal)).StatusCode);

        var unknown = await admin.DeleteAsync($"/api/keys/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("does not exist", await unknown.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_x_api_key_header_carries_a_key_as_well_as_a_bearer_token()
    {
        var keys = _host.Get<ApiKeyService>();
        var (row, key) = await keys.CreateAsync("header-program", Admin, default);
        using var client = _host.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", key);
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/signals", new { source = "header-program", message = "sent with X-Api-Key" })).StatusCode);
        var incident = await _host.WaitForIncidentAsync(i => i.Source == "header-program");
        Assert.Equal("sent with X-Api-Key", incident.SampleMessage);

        using var forged = _host.CreateClient();
        forged.DefaultRequestHeaders.Add("X-Api-Key", "grace_deadbeef_notarealsecretatall");
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.PostAsJsonAsync("/api/signals", OneSignal)).StatusCode);
        await keys.RevokeAsync(row.Id, Admin, default);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsJsonAsync("/api/signals", OneSignal)).StatusCode);
    }

    [Fact]
    public async Task Only_admins_manage_keys()
    {
        var refused = await Assert.ThrowsAsync<MissionOperationException>(() =>
            _host.Get<ApiKeyService>().CreateAsync("x", new Actor("lena", [GraceRoles.Lead]), default));
        Assert.True(refused.Forbidden);
    }

    [Fact]
    public async Task A_key_over_its_rate_gets_429_with_retry_after()
    {
        using var client = _host.IngestClient();
        var statuses = new List<HttpResponseMessage>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add(await client.PostAsJsonAsync("/api/signals", OneSignal));
        }

        var limited = statuses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "429 carries Retry-After");
        Assert.Contains("RequestsPerSecondPerKey", await limited.Content.ReadAsStringAsync());
        Assert.True(statuses.Count(r => r.StatusCode == HttpStatusCode.Accepted) >= 3);
    }

    [Fact]
    public async Task A_body_over_the_limit_gets_413_with_or_without_a_length()
    {
        using var client = _host.IngestClient();
        var big = JsonSerializer.Serialize(new { source = "orders", message = new string('x', 5000) });
        var sized = await client.PostAsync("/api/signals", new StringContent(big, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, sized.StatusCode);

        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/signals") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await client.SendAsync(request)).StatusCode);
    }

    private static object Alert(string status, string alertname = "DiskFull", string fingerprint = "a1b2c3", string? summary = "Disk /var is 97% full on db-1") => new
    {
        status,
        labels = new Dictionary<string, string> { ["alertname"] = alertname, ["severity"] = "critical", ["service"] = "postgres", ["instance"] = "db-1:9100" },
        annotations = new Dictionary<string, string?> { ["summary"] = summary },
        startsAt = "2026-11-24T03:00:00Z",
        endsAt = "0001-01-01T00:00:00Z",
        generatorURL = "http://prometheus.local/graph",
        fingerprint,
    };

    private static object Payload(string status, params object[] alerts) => new
    {
        version = "4", groupKey = "{}:{alertname=\"DiskFull\"}", truncatedAlerts = 0, status, receiver = "grace",
        groupLabels = new { alertname = "DiskFull" }, commonLabels = new { }, commonAnnotations = new { }, externalURL = "http://alertmanager.local", alerts,
    };

    [Fact]
    public async Task Alertmanager_firing_opens_an_incident_and_resolved_resolves_it()
    {
        using var client = _host.IngestClient();
        var fired = await client.PostAsJsonAsync("/api/alertmanager", Payload("firing", Alert("firing"), Alert("firing", "HighLatency", "ffee01", "p99 above 2 s")));
        Assert.Equal(HttpStatusCode.Accepted, fired.StatusCode);
        var disk = await _host.WaitForIncidentAsync(i => i.Template.Contains("DiskFull", StringComparison.Ordinal) && i.Status == IncidentStatus.Open);
        Assert.Equal("postgres", disk.Source);
        Assert.Equal(Severity.Critical, disk.Severity);
        Assert.Contains("\"instance\":\"db-1:9100\"", disk.Labels);

        await Task.Delay(1100); // the test key's rate is 1 per second
        var resolved = await client.PostAsJsonAsync("/api/alertmanager", Payload("resolved", Alert("resolved")));
        Assert.Equal(HttpStatusCode.Accepted, resolved.StatusCode);
        var closed = await _host.WaitForIncidentAsync(i => i.Id == disk.Id && i.Status == IncidentStatus.Resolved);
        Assert.Equal(1, closed.Count);
        var latency = await _host.WaitForIncidentAsync(i => i.Template.Contains("HighLatency", StringComparison.Ordinal));
        Assert.Equal(IncidentStatus.Open, latency.Status);
    }

    public static TheoryData<string, string> BadAlertmanager => new()
    {
        { "{", "body" },
        { "[]", "body" },
        { "{\"version\":\"4\"}", "alerts" },
        { "{\"version\":\"4\",\"alerts\":[]}", "alerts" },
        { "{\"version\":\"3\",\"alerts\":[{}]}", "version" },
        { "{\"version\":\"4\",\"alerts\":[{\"status\":\"burning\",\"labels\":{\"alertname\":\"X\"}}]}", "alerts[0].status" },
        { "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"severity\":\"page\"}}]}", "alerts[0].labels.alertname" },
        { "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\"}]}", "alerts[0].labels" },
        { "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":7}}]}", "alerts[0].labels.alertname" },
        { "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"X\"},\"startsAt\":\"soon\"}]}", "alerts[0].startsAt" },
        { "{\"version\":\"4\",\"alerts\":[\"x\"]}", "alerts[0]" },
    };

    [Theory]
    [MemberData(nameof(BadAlertmanager))]
    public async Task Bad_alertmanager_payloads_get_400_naming_the_field(string body, string field)
    {
        using var client = _host.IngestClient();
        var response = await client.PostAsync("/api/alertmanager", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), problem.RootElement.ToString());
    }

    [Fact]
    public async Task Capture_figures_are_shown_to_signed_in_people()
    {
        using var ingest = _host.IngestClient();
        (await ingest.PostAsJsonAsync("/api/signals", OneSignal)).EnsureSuccessStatusCode();
        using var anonymous = _host.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/capture/stats")).StatusCode);
        using var client = _host.ClientWithCookie(await _host.SignInAsync("admin", TestCatalog.AdminPassword));
        var stats = await client.GetFromJsonAsync<JsonElement>("/api/capture/stats");
        Assert.True(stats.GetProperty("accepted").GetInt64() >= 1);
        Assert.Equal(0, stats.GetProperty("dropped").GetInt64());
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);
    }
}
