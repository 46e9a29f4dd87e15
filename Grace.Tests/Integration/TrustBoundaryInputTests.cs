using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;

namespace Grace.Tests.Integration;

/// <summary>
/// Issue 13, the input side of the trust boundary: malformed bodies (bad text, broken framing, slow
/// or cut-short bodies) get a 4xx problem naming what is wrong, never a 500, an Error log line or an
/// incident; content types; reserved sources; key scopes and limits; Grafana and generic webhooks.
/// </summary>
public sealed class TrustBoundaryInputTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private readonly ErrorLog _errors = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;
    private string _key = null!;

    /// <summary>Every Warning-or-worse event Grace logs: a client's mistake must never reach Error.</summary>
    private sealed class ErrorLog : ILogEventSink
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public void Emit(LogEvent logEvent)
        {
            if (logEvent.Level >= LogEventLevel.Error)
            {
                Lines.Enqueue($"{logEvent.Level} {logEvent.RenderMessage()} {logEvent.Exception?.GetType().Name}");
            }
        }
    }

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Ingestion:RequestsPerSecondPerKey"] = "100000",
            ["Grace:Ingestion:BurstPerKey"] = "100000",
            ["Grace:Ingestion:MaxBodyBytes"] = "65536",
            // A tool that only knows its own JSON: an uptime monitor's notice.
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
        }), s => s.AddSingleton<ILogEventSink>(_errors)).Start();
        _key = await KeyAsync("tests", ApiKeyLimits.All);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private static readonly Actor Admin = new("admin", [GraceRoles.Admin]);

    private async Task<string> KeyAsync(string name, ApiKeyLimits limits) => (await _host.Get<ApiKeyService>().CreateAsync(name, limits, Admin, default)).Key;

    private HttpClient Client(string? key = null)
    {
        var client = _host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key ?? _key);
        return client;
    }

    private static ByteArrayContent Json(byte[] body, string contentType = "application/json")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    private static ByteArrayContent Json(string body) => Json(Encoding.UTF8.GetBytes(body));

    /// <summary>UTF-8 of <paramref name="before"/>, the raw (invalid) bytes, then UTF-8 of <paramref name="after"/>.</summary>
    private static byte[] Bytes(string before, byte[] raw, string after) => [.. Encoding.UTF8.GetBytes(before), .. raw, .. Encoding.UTF8.GetBytes(after)];

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static void AssertNames(JsonElement problem, string field)
    {
        Assert.True(problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out _), $"the problem should name '{field}': {problem}");
    }

    private async Task AssertNothingFromGracesOwnLogAsync()
    {
        Assert.True(_errors.Lines.IsEmpty, "a client's mistake was logged at Error:\n" + string.Join("\n", _errors.Lines));
        // Give the capture loop a moment: an Error line would have become a signal, then an incident.
        await Task.Delay(300);
        await using var db = _host.CreateDb();
        var own = await db.Incidents.AsNoTracking().Where(i => i.Source.StartsWith("Grace") || i.Source.StartsWith("Microsoft") || i.Source.StartsWith("Serilog")).Select(i => i.Source).ToListAsync();
        Assert.True(own.Count == 0, "Grace opened incidents from its own log: " + string.Join(", ", own));
    }

    public static TheoryData<string, byte[], string> BadText => new()
    {
        // A lone surrogate escape: the parser lets it through, JsonElement.GetString() throws.
        { "/api/signals", Encoding.UTF8.GetBytes("""{"source":"\ud800","message":"x"}"""), "source" },
        { "/api/signals", Encoding.UTF8.GetBytes("""[{"source":"s","message":"ok"},{"source":"s","message":"\udfff"}]"""), "[1].message" },
        // Invalid UTF-8 bytes inside a string and inside a property name.
        { "/api/signals", Bytes("{\"source\":\"a", [0xFF, 0xFE], "\",\"message\":\"x\"}"), "source" },
        { "/api/signals", Bytes("{\"source\":\"s\",\"message\":\"m\",\"labels\":{\"e", [0xC3, 0x28], "\":\"v\"}}"), "labels" },
        { "/api/signals", Bytes("{\"sou", [0xFF], "rce\":\"s\",\"message\":\"m\"}"), "body" },
        { "/api/alertmanager", Encoding.UTF8.GetBytes("""{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"\ud800"}}]}"""), "alerts[0].labels.alertname" },
        { "/api/alertmanager", Bytes("{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\",\"", [0xED, 0xA0, 0x80], "\":\"x\"}}]}"), "alerts[0].labels" },
        { "/api/grafana", Encoding.UTF8.GetBytes("""{"version":"1","alerts":[{"status":"firing","labels":{"alertname":"A"},"annotations":{"summary":"\udc00"}}]}"""), "alerts[0].annotations.summary" },
        { "/api/webhooks/uptime", Encoding.UTF8.GetBytes("""{"msg":"\ud83d","monitor":{"name":"web"}}"""), "msg" },
    };

    [Theory]
    [MemberData(nameof(BadText))]
    public async Task Text_that_is_not_valid_unicode_gets_a_400_naming_where_it_is(string path, byte[] body, string field)
    {
        using var client = Client();
        var before = _host.Get<SignalIntake>().Accepted;
        var problem = await ProblemAsync(await client.PostAsync(path, Json(body)), HttpStatusCode.BadRequest);
        AssertNames(problem, field);
        Assert.Equal(before, _host.Get<SignalIntake>().Accepted);
        await AssertNothingFromGracesOwnLogAsync();
    }

    [Fact]
    public async Task The_console_api_names_bad_text_too()
    {
        using var admin = _host.ClientWithCookie(await _host.SignInAsync("admin", TestCatalog.AdminPassword));
        var problem = await ProblemAsync(await admin.PostAsync($"/api/missions/{Guid.NewGuid()}/reject", Json("""{"reason":"\ud800"}""")), HttpStatusCode.BadRequest);
        AssertNames(problem, "reason");
        problem = await ProblemAsync(await admin.PostAsync("/api/keys", Json(Bytes("{\"name\":\"x", [0xFF], "\"}"))), HttpStatusCode.BadRequest);
        AssertNames(problem, "name");
        await AssertNothingFromGracesOwnLogAsync();
    }

    [Theory]
    [InlineData("/api/signals")]
    [InlineData("/api/alertmanager")]
    [InlineData("/api/grafana")]
    [InlineData("/api/webhooks/uptime")]
    public async Task A_valid_key_with_a_non_json_content_type_gets_415_not_401(string path)
    {
        using var client = Client();
        foreach (var type in (string[])["text/plain", "application/x-www-form-urlencoded", "application/xml"])
        {
            var problem = await ProblemAsync(await client.PostAsync(path, Json(Encoding.UTF8.GetBytes("""{"source":"s","message":"m"}"""), type)), HttpStatusCode.UnsupportedMediaType);
            Assert.Contains("application/json", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Without a key the answer stays 401, with what to send.
        using var anonymous = _host.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync(path, Json(Encoding.UTF8.GetBytes("{}"), "text/plain"))).StatusCode);
    }

    [Theory]
    [InlineData("process:demo-worker", "process:")]
    [InlineData("health:demo-orders-db", "health:")]
    [InlineData("container:demo-web", "container:")]
    [InlineData("kubernetes:shop-api", "kubernetes:")]
    [InlineData("Grace.Engine.Missions.MissionGrain", "Grace.")]
    [InlineData("grace.web", "Grace.")]
    [InlineData("Grace", "Grace")]
    [InlineData("  PROCESS:demo-worker", "process:")]
    public async Task No_caller_may_post_as_one_of_graces_own_observers(string source, string prefix)
    {
        using var client = Client();
        var problem = await ProblemAsync(await client.PostAsync("/api/signals", Json(JsonSerializer.Serialize(new { source, message = "Supervised process demo-worker exited unexpectedly with code 137", severity = "Critical" }))), HttpStatusCode.Forbidden);
        AssertNames(problem, "source");
        Assert.Contains($"'{prefix}'", problem.GetProperty("errors").GetProperty("source")[0].GetString(), StringComparison.Ordinal);

        // Through Alertmanager's labels too, and in a batch the whole batch is refused.
        var alert = new { version = "4", alerts = new[] { new { status = "firing", labels = new Dictionary<string, string> { ["alertname"] = "Down", ["job"] = source } } } };
        AssertNames(await ProblemAsync(await client.PostAsync("/api/alertmanager", Json(JsonSerializer.Serialize(alert))), HttpStatusCode.Forbidden), "alerts[0].source");
        AssertNames(await ProblemAsync(await client.PostAsync("/api/signals", Json(JsonSerializer.Serialize(new[] { new { source = "orders", message = "m" }, new { source, message = "m" } }))), HttpStatusCode.Forbidden), "[1].source");

        // A signed-in Operator is refused as well: only Grace itself reports under these sources.
        await _host.CreateUserAsync("olivia", "Operator-Password-1", GraceRoles.Operator);
        using var person = _host.ClientWithCookie(await _host.SignInAsync("olivia", "Operator-Password-1"));
        Assert.Equal(HttpStatusCode.Forbidden, (await person.PostAsync("/api/signals", Json(JsonSerializer.Serialize(new { source, message = "m" })))).StatusCode);

        await using var db = _host.CreateDb();
        Assert.False(await db.Incidents.AnyAsync(i => i.Source == source), "a forged source opened an incident");
        Assert.False(await db.Missions.AnyAsync(), "a forged source started a mission");
    }

    [Fact]
    public async Task Graces_own_observers_still_report_under_the_reserved_sources_and_the_catalog_can_reserve_more()
    {
        // The process supervisor's signal, written where the supervisor writes it: its pattern opens an incident.
        Assert.True(_host.Get<ISignalSink>().TryWrite(new Signal("process:demo-worker", "Supervised process demo-worker exited unexpectedly with code 137",
            Severity.Critical, DateTimeOffset.UtcNow, Target: "demo-worker", ReportedBy: "engine")));
        var incident = await _host.WaitForIncidentAsync(i => i.Source == "process:demo-worker");
        Assert.Equal("demo-worker", incident.Target);

        Assert.Equal("Microsoft.AspNetCore", SignalSources.ReservedPrefix("microsoft.aspnetcore.Server.Kestrel", ["Microsoft.AspNetCore"]));
        Assert.Null(SignalSources.ReservedPrefix("orders-api", ["Microsoft.AspNetCore"]));
        Assert.Null(SignalSources.ReservedPrefix("graceful-shutdown-service", []));
    }

    [Fact]
    public async Task Keys_are_held_to_their_scopes_on_every_ingestion_endpoint()
    {
        var signal = JsonSerializer.Serialize(new { source = "orders-api", message = "m" });
        var alertmanager = JsonSerializer.Serialize(new { version = "4", alerts = new[] { new { status = "firing", labels = new Dictionary<string, string> { ["alertname"] = "Down", ["job"] = "orders-api" } } } });
        var webhook = """{"msg":"down","monitor":{"id":7,"name":"orders-api"},"heartbeat":{"status":0}}""";
        var endpoints = new (string Path, string Body, ApiKeyScopes Scope)[]
        {
            ("/api/signals", signal, ApiKeyScopes.Signals),
            ("/api/alertmanager", alertmanager, ApiKeyScopes.Alerts),
            ("/api/grafana", alertmanager.Replace("\"4\"", "\"1\"", StringComparison.Ordinal), ApiKeyScopes.Alerts),
            ("/api/webhooks/uptime", webhook, ApiKeyScopes.Webhooks),
        };
        foreach (var held in (ApiKeyScopes[])[ApiKeyScopes.Signals, ApiKeyScopes.Alerts, ApiKeyScopes.Webhooks, ApiKeyScopes.Ingest])
        {
            using var client = Client(await KeyAsync($"scoped-{(int)held}", new ApiKeyLimits(held, [], [], [])));
            foreach (var (path, body, scope) in endpoints)
            {
                var response = await client.PostAsync(path, Json(body));
                if (held.HasFlag(scope))
                {
                    Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{held} on {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
                else
                {
                    var problem = await ProblemAsync(response, HttpStatusCode.Forbidden);
                    Assert.Contains($"'{ApiKeyLimits.ScopeNames[scope]}'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
                }
            }
        }

        // A key never reaches what is for people: the fault demo, key management, the console's reads.
        using var keyClient = Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await keyClient.PostAsync("/api/faults", Json("""{"kind":"ProcessCrash","target":"demo-worker"}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await keyClient.PostAsync("/api/keys", Json("""{"name":"x"}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await keyClient.GetAsync("/api/capture/stats")).StatusCode);

        // A revoked key is told so.
        var keys = _host.Get<ApiKeyService>();
        var (row, revokedKey) = await keys.CreateAsync("to-revoke", Admin, default);
        await keys.RevokeAsync(row.Id, Admin, default);
        using var revoked = Client(revokedKey);
        Assert.Contains("revoked", (await ProblemAsync(await revoked.PostAsync("/api/signals", Json(signal)), HttpStatusCode.Forbidden)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_limited_to_sources_targets_or_patterns_may_only_report_for_them_and_a_change_applies_at_once()
    {
        var keys = _host.Get<ApiKeyService>();
        var (row, key) = await keys.CreateAsync("orders-only", new ApiKeyLimits(ApiKeyScopes.Signals, ["orders"], [], []), Admin, default);
        using var client = Client(key);
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/api/signals", Json("""{"source":"orders-api","message":"m"}"""))).StatusCode);
        var problem = await ProblemAsync(await client.PostAsync("/api/signals", Json("""{"source":"payments","message":"m"}""")), HttpStatusCode.Forbidden);
        AssertNames(problem, "source");
        Assert.Contains("'orders'", problem.GetProperty("errors").GetProperty("source")[0].GetString(), StringComparison.Ordinal);

        await keys.UpdateLimitsAsync(row.Id, new ApiKeyLimits(ApiKeyScopes.Signals, [], ["test-db"], []), Admin, default);
        AssertNames(await ProblemAsync(await client.PostAsync("/api/signals", Json("""{"source":"payments","message":"m"}""")), HttpStatusCode.Forbidden), "target");
        AssertNames(await ProblemAsync(await client.PostAsync("/api/signals", Json("""{"source":"payments","message":"m","target":"test-cache"}""")), HttpStatusCode.Forbidden), "target");
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/api/signals", Json("""{"source":"payments","message":"m","target":"test-db"}"""))).StatusCode);

        await keys.UpdateLimitsAsync(row.Id, new ApiKeyLimits(ApiKeyScopes.Signals, [], [], ["test-wal"]), Admin, default);
        AssertNames(await ProblemAsync(await client.PostAsync("/api/signals", Json("""{"source":"orders","message":"something else"}""")), HttpStatusCode.Forbidden), "body");
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/api/signals", Json(JsonSerializer.Serialize(new { source = "orders", message = TestCatalog.WalMessage })))).StatusCode);

        // What an Admin may not grant: a reserved source, an unknown target or pattern, no scope at all; each names the field.
        foreach (var (limits, field) in new (ApiKeyLimits, string)[]
        {
            (new(ApiKeyScopes.Signals, ["process:"], [], []), "sources"),
            (new(ApiKeyScopes.Signals, [], ["no-such-target"], []), "targets"),
            (new(ApiKeyScopes.Signals, [], [], ["no-such-pattern"]), "patterns"),
            (new(ApiKeyScopes.None, [], [], []), "scopes"),
        })
        {
            var refused = await Assert.ThrowsAsync<MissionOperationException>(() => keys.CreateAsync("bad", limits, Admin, default));
            Assert.Equal(field, refused.Field);
        }

        await using var db = _host.CreateDb();
        Assert.Equal(["test-wal"], (await db.ApiKeys.AsNoTracking().SingleAsync(k => k.Id == row.Id)).AllowedPatterns);
        Assert.Contains(await db.AuditEntries.AsNoTracking().Where(a => a.Action == "api-key.limit").Select(a => a.Detail).ToListAsync(), d => d!.Contains("patterns test-wal", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_keys_last_use_is_shown_at_once_and_written_once_a_minute_not_per_request()
    {
        var keys = _host.Get<ApiKeyService>();
        var (row, key) = await keys.CreateAsync("busy", Admin, default);
        await keys.FlushUsageAsync(default);
        using var client = Client(key);
        for (var i = 0; i < 25; i++)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/api/signals", Json("""{"source":"busy","message":"m"}"""))).StatusCode);
        }

        await using (var db = _host.CreateDb())
        {
            Assert.Null((await db.ApiKeys.AsNoTracking().SingleAsync(k => k.Id == row.Id)).LastUsedAt);
        }

        var listed = Assert.Single(await keys.ListAsync(default), k => k.Id == row.Id);
        Assert.NotNull(listed.LastUsedAt);
        Assert.True(DateTimeOffset.UtcNow - listed.LastUsedAt < TimeSpan.FromMinutes(1));

        // 25 requests, one write (and the other key the tests used, at most).
        Assert.InRange(await keys.FlushUsageAsync(default), 1, 2);
        await using (var db = _host.CreateDb())
        {
            // Stored to the precision the provider keeps (SQLite: milliseconds).
            var stored = (await db.ApiKeys.AsNoTracking().SingleAsync(k => k.Id == row.Id)).LastUsedAt;
            Assert.NotNull(stored);
            Assert.True((listed.LastUsedAt!.Value - stored.Value).Duration() < TimeSpan.FromMilliseconds(1), $"{listed.LastUsedAt:O} was stored as {stored:O}");
        }

        Assert.Equal(0, await keys.FlushUsageAsync(default));
    }

    [Fact]
    public async Task Fault_injection_needs_an_admin_and_a_rejection_without_a_reason_names_the_field()
    {
        await _host.CreateUserAsync("oscar", "Operator-Password-1", GraceRoles.Operator);
        using var operatorClient = _host.ClientWithCookie(await _host.SignInAsync("oscar", "Operator-Password-1"));
        // Faults are off here: before the Admin policy, an Operator learned that (404) from the endpoint itself.
        Assert.Equal(HttpStatusCode.Forbidden, (await operatorClient.PostAsync("/api/faults", Json("""{"kind":"ProcessCrash","target":"demo-worker"}"""))).StatusCode);
        using var admin = _host.ClientWithCookie(await _host.SignInAsync("admin", TestCatalog.AdminPassword));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync("/api/faults", Json("""{"kind":"ProcessCrash","target":"demo-worker"}"""))).StatusCode);

        foreach (var body in (string[])["{}", """{"reason":"   "}""", """{"reason":null}"""])
        {
            AssertNames(await ProblemAsync(await operatorClient.PostAsync($"/api/missions/{Guid.NewGuid()}/reject", Json(body)), HttpStatusCode.BadRequest), "reason");
        }

        // The engine says the same to every caller (the console, Slack): the field at fault.
        var refused = await Assert.ThrowsAsync<MissionOperationException>(() =>
            _host.Get<Grace.Engine.Gate.ApprovalService>().DecideAsync(Guid.NewGuid(), new Actor("oscar", [GraceRoles.Operator]), ApprovalVerdict.Reject, " ", default));
        Assert.Equal("reason", refused.Field);
    }

    [Fact]
    public async Task Column_limits_are_named_once_and_the_api_refuses_what_the_columns_cannot_hold()
    {
        await using (var db = _host.CreateDb())
        {
            var incident = db.Model.FindEntityType(typeof(Incident))!;
            Assert.Equal(ColumnLimits.Source, incident.FindProperty(nameof(Incident.Source))!.GetMaxLength());
            Assert.Equal(ColumnLimits.Key, incident.FindProperty(nameof(Incident.Target))!.GetMaxLength());
            Assert.Equal(ColumnLimits.ExceptionType, incident.FindProperty(nameof(Incident.ExceptionType))!.GetMaxLength());
            Assert.Equal(ColumnLimits.ApiKeyName, db.Model.FindEntityType(typeof(ApiKey))!.FindProperty(nameof(ApiKey.Name))!.GetMaxLength());
        }

        using var client = Client();
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/api/signals", Json(JsonSerializer.Serialize(new { source = new string('s', ColumnLimits.Source), message = "m" })))).StatusCode);
        AssertNames(await ProblemAsync(await client.PostAsync("/api/signals", Json(JsonSerializer.Serialize(new { source = new string('s', ColumnLimits.Source + 1), message = "m" }))), HttpStatusCode.BadRequest), "source");
        AssertNames(await ProblemAsync(await client.PostAsync("/api/signals", Json(JsonSerializer.Serialize(new { source = "s", message = "m", target = new string('t', ColumnLimits.Key + 1) }))), HttpStatusCode.BadRequest), "target");
        var refused = await Assert.ThrowsAsync<MissionOperationException>(() => _host.Get<ApiKeyService>().CreateAsync(new string('k', ColumnLimits.ApiKeyName + 1), Admin, default));
        Assert.Equal("name", refused.Field);
    }

    [Fact]
    public async Task Over_every_api_endpoint_a_key_reaches_only_the_ingestion_endpoints_of_its_scopes()
    {
        var endpoints = _host.Services.GetServices<Microsoft.AspNetCore.Routing.EndpointDataSource>()
            .SelectMany(d => d.Endpoints).OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.TrimStart('/').StartsWith("api/", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => (Method: m, Path: "/" + System.Text.RegularExpressions.Regex.Replace(e.RoutePattern.RawText!.TrimStart('/'), "\\{(\\w+)(:[^}]*)?\\}",
                    x => x.Groups[1].Value == "name" ? "uptime" : Guid.NewGuid().ToString()), Scope: e.Metadata.GetMetadata<Grace.Web.Api.RequiredApiKeyScope>()?.Scope)))
            .ToList();
        Assert.True(endpoints.Count >= 15, $"only {endpoints.Count} API endpoints found");
        Assert.Equal(4, endpoints.Count(e => e.Scope is not null));

        using var full = Client();
        using var none = Client(await KeyAsync("webhooks-only", new ApiKeyLimits(ApiKeyScopes.Webhooks, [], [], [])));
        foreach (var (method, path, scope) in endpoints)
        {
            foreach (var (client, holds) in new[] { (full, true), (none, scope == ApiKeyScopes.Webhooks) })
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "GET" ? null : Json("{}") };
                var status = (await client.SendAsync(request)).StatusCode;
                if (scope is not null && holds)
                {
                    Assert.True(status is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden), $"{method} {path} refused a key holding its scope: {(int)status}");
                }
                else
                {
                    Assert.True(status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden, $"{method} {path} let a key through that should not reach it: {(int)status}");
                }
            }
        }
    }
}
