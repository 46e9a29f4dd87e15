using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Tests.Infrastructure;

namespace Grace.Tests.Integration;

/// <summary>
/// Grafana-managed alerting's webhook, as Grafana sends it (version "1", with <c>values</c>,
/// <c>silenceURL</c>, <c>dashboardURL</c>...), and the generic JSON webhook with a configured field
/// mapping: both become signals, firing and resolved meet in one incident.
/// </summary>
public sealed class AlertWebhookTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;

    private static readonly Dictionary<string, string?> Uptime = new()
    {
        ["Grace:Webhooks:uptime:Source"] = "$.monitor.name",
        ["Grace:Webhooks:uptime:Message"] = "$.msg",
        ["Grace:Webhooks:uptime:Severity"] = "$.heartbeat.status",
        ["Grace:Webhooks:uptime:SeverityMap:0"] = "Critical",
        ["Grace:Webhooks:uptime:SeverityMap:1"] = "Information",
        ["Grace:Webhooks:uptime:Fingerprint"] = "$.monitor.id",
        ["Grace:Webhooks:uptime:Target"] = "$.monitor.target",
        ["Grace:Webhooks:uptime:Timestamp"] = "$.heartbeat.time",
        ["Grace:Webhooks:uptime:Resolved"] = "$.heartbeat.status",
        ["Grace:Webhooks:uptime:ResolvedValues:0"] = "1",
        ["Grace:Webhooks:uptime:Labels:url"] = "$.monitor.url",
        ["Grace:Webhooks:uptime:Labels:tool"] = "uptime-monitor",
        ["Grace:Webhooks:batch:Items"] = "$.events",
        ["Grace:Webhooks:batch:Source"] = "batch-tool",
        ["Grace:Webhooks:batch:Message"] = "$.text",
        ["Grace:Webhooks:batch:ApiKeys:0"] = "tests",
    };

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(Uptime)).Start();
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    /// <summary>Grafana's webhook body in its documented shape (receiver, orgId, state, title, version "1"; per alert values and links).</summary>
    private static string Grafana(string status, double value) => $$"""
        {
          "receiver": "grace",
          "status": "{{status}}",
          "orgId": 1,
          "alerts": [
            {
              "status": "{{status}}",
              "labels": { "alertname": "Orders p99 latency", "grafana_folder": "Shop", "service": "orders-api", "team": "shop" },
              "annotations": { "summary": "Orders p99 latency is above 2 s", "runbook_url": "https://runbooks.example/orders" },
              "startsAt": "2026-11-30T09:51:03.157076+02:00",
              "endsAt": "{{(status == "resolved" ? "2026-11-30T10:05:00+02:00" : "0001-01-01T00:00:00Z")}}",
              "generatorURL": "https://grafana.example/alerting/grafana/abc123/view",
              "fingerprint": "5f6e1c2d3b4a5968",
              "silenceURL": "https://grafana.example/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DOrders",
              "dashboardURL": "https://grafana.example/d/orders",
              "panelURL": "https://grafana.example/d/orders?viewPanel=4",
              "values": { "B": {{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}}, "C": 1 },
              "valueString": "[ var='B' labels={service=orders-api} value={{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}} ]"
            }
          ],
          "groupLabels": { "alertname": "Orders p99 latency" },
          "commonLabels": { "alertname": "Orders p99 latency", "service": "orders-api" },
          "commonAnnotations": {},
          "externalURL": "https://grafana.example/",
          "version": "1",
          "groupKey": "{}:{alertname=\"Orders p99 latency\"}",
          "truncatedAlerts": 0,
          "title": "[{{status.ToUpperInvariant()}}:1] Orders p99 latency (orders-api)",
          "state": "{{(status == "firing" ? "alerting" : "ok")}}",
          "message": "**{{status}}**"
        }
        """;

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_grafana_alert_fires_and_resolves_one_incident_with_its_values_and_links()
    {
        using var client = _host.IngestClient();
        var firing = await client.PostAsync("/api/grafana", Json(Grafana("firing", 2.41)));
        Assert.True(firing.StatusCode == HttpStatusCode.Accepted, await firing.Content.ReadAsStringAsync());
        var incident = await _host.WaitForIncidentAsync(i => i.Source == "orders-api" && i.Status == IncidentStatus.Open);
        Assert.Equal("Orders p99 latency is above 2 s", incident.SampleMessage);

        Assert.Contains("\"value.B\":\"2.41\"", incident.Labels, StringComparison.Ordinal);
        Assert.Contains("https://grafana.example/d/orders", incident.Labels, StringComparison.Ordinal);
        Assert.Contains("grafana_folder", incident.Labels, StringComparison.Ordinal);

        // Grafana's documented shape also arrives at the Alertmanager endpoint unchanged.
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/api/alertmanager", Json(Grafana("firing", 2.5)))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/api/grafana", Json(Grafana("resolved", 0.4)))).StatusCode);
        var resolved = await _host.WaitForIncidentAsync(i => i.Id == incident.Id && i.Status == IncidentStatus.Resolved);
        Assert.Equal(incident.Id, resolved.Id);

        var problem = await client.PostAsync("/api/grafana", Json(Grafana("firing", 1).Replace("\"version\": \"1\"", "\"version\": \"2\"", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.BadRequest, problem.StatusCode);
        Assert.Contains("version", await problem.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static string UptimeNotice(int status, string message) => $$"""
        {
          "heartbeat": { "status": {{status}}, "time": "2026-11-30 09:12:44", "msg": "{{message}}", "ping": null },
          "monitor": { "id": 42, "name": "orders-web", "url": "https://orders.example/health", "type": "http", "target": "test-db" },
          "msg": "[orders-web] [{{(status == 0 ? "DOWN" : "UP")}}] {{message}}"
        }
        """;

    [Fact]
    public async Task A_generic_webhook_maps_a_tools_own_json_to_signals_that_fire_and_resolve()
    {
        using var client = _host.IngestClient();
        var down = await client.PostAsync("/api/webhooks/uptime", Json(UptimeNotice(0, "connect ECONNREFUSED")));
        Assert.True(down.StatusCode == HttpStatusCode.Accepted, await down.Content.ReadAsStringAsync());
        var incident = await _host.WaitForIncidentAsync(i => i.Source == "orders-web" && i.Status == IncidentStatus.Open);
        Assert.Equal("test-db", incident.Target);
        Assert.Equal(Severity.Critical, incident.Severity);
        Assert.Equal(new DateTimeOffset(2026, 11, 30, 9, 12, 44, TimeSpan.Zero), incident.FirstSeenAt);
        Assert.Contains("\"url\":\"https://orders.example/health\"", incident.Labels, StringComparison.Ordinal);
        Assert.Contains("\"tool\":\"uptime-monitor\"", incident.Labels, StringComparison.Ordinal);

        // A second DOWN with another message folds into the same incident (the monitor id is the fingerprint); UP resolves it.
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/api/webhooks/uptime", Json(UptimeNotice(0, "timeout after 48000 ms")))).StatusCode);
        await _host.WaitForIncidentAsync(i => i.Id == incident.Id && i.Count == 2);
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/api/webhooks/uptime", Json(UptimeNotice(1, "200 - OK")))).StatusCode);
        await _host.WaitForIncidentAsync(i => i.Id == incident.Id && i.Status == IncidentStatus.Resolved);

        // Items from an array inside the body; a missing message is named per item; unknown webhooks are 404.
        var batch = await client.PostAsync("/api/webhooks/batch", Json("""{"events":[{"text":"disk 91%"},{"text":"disk 95%"}]}"""));
        Assert.Equal(2, (await batch.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accepted").GetInt32());
        var missing = await client.PostAsync("/api/webhooks/batch", Json("""{"events":[{"text":"ok"},{"other":1}]}"""));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Contains("events[1].message", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/api/webhooks/batch", Json("""{"events":{}}"""))).StatusCode);
        var unknown = await client.PostAsync("/api/webhooks/nope", Json("{}"));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("Grace:Webhooks:nope", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A webhook limited to named keys refuses others.
        var (_, other) = await _host.Get<Grace.Engine.Capture.ApiKeyService>().CreateAsync("someone-else", new Grace.Engine.Missions.Actor("admin", [Grace.Engine.Missions.GraceRoles.Admin]), default);
        using var otherClient = _host.CreateClient();
        otherClient.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", other);
        Assert.Equal(HttpStatusCode.Forbidden, (await otherClient.PostAsync("/api/webhooks/batch", Json("""{"events":[{"text":"x"}]}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await otherClient.PostAsync("/api/webhooks/uptime", Json(UptimeNotice(0, "x")))).StatusCode);
    }

    public static TheoryData<string, string, string> BrokenMappings => new()
    {
        { "Grace:Webhooks:bad:Source", "$.a", "Grace:Webhooks:bad:Message is required" },
        { "Grace:Webhooks:bad:Message", "$.a..b", "Grace:Webhooks:bad:Message: '$.a..b' is not a path" },
        { "Grace:Webhooks:bad:Items", "alerts", "Grace:Webhooks:bad:Items must be a path" },
        { "Grace:Webhooks:bad:Resolved", "$.state", "Grace:Webhooks:bad:ResolvedValues must list" },
        { "Grace:Webhooks:bad name:Message", "$.m", "Grace:Webhooks:bad name: a webhook name is" },
    };

    [Theory]
    [MemberData(nameof(BrokenMappings))]
    public void A_broken_webhook_mapping_stops_the_start_naming_the_key(string key, string value, string expected)
    {
        using var folder = new TempFolder();
        var settings = TestCatalog.Settings(folder).Append(new(key, value));
        if (!key.EndsWith(":Source", StringComparison.Ordinal))
        {
            settings = settings.Append(new(key[..key.LastIndexOf(':')] + ":Source", "tool"));
        }

        if (!key.EndsWith(":Message", StringComparison.Ordinal) && !key.EndsWith(":Source", StringComparison.Ordinal))
        {
            settings = settings.Append(new(key[..key.LastIndexOf(':')] + ":Message", "$.m"));
        }

        using var host = new GraceHost(settings);
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        var messages = new List<string>();
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            messages.Add(e.Message);
        }

        Assert.Contains(expected, string.Join(" | ", messages), StringComparison.Ordinal);
    }
}
