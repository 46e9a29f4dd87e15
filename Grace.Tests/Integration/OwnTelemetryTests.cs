using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Grace.Tests.Integration;

/// <summary>
/// Issue 15, Grace's own telemetry: a mission is one trace with a span per stage, tagged with its
/// incident; the meter's counters and histograms move; <c>/metrics</c> obeys its access setting and
/// bad settings stop the start naming the key.
/// </summary>
public sealed class OwnTelemetryTests : IAsyncLifetime
{
    private static readonly string[] Stages = ["capture", "diagnose", "plan", "gate", "snapshot", "act", "verify", "learn"];
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private readonly List<Activity> _spans = [];
    private readonly List<MetricSnapshot> _metrics = [];

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private GraceHost NewHost(params (string Key, string? Value)[] extra) => new GraceHost(
        TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(extra.Select(e => new KeyValuePair<string, string?>(e.Key, e.Value))),
        services =>
        {
            services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(_spans));
            services.ConfigureOpenTelemetryMeterProvider(m => m.AddInMemoryExporter(_metrics));
        });

    private static async Task SendAsync(GraceHost host, string message)
    {
        using var client = host.IngestClient();
        var response = await client.PostAsJsonAsync("/api/signals", new { source = "orders-api", message, severity = "Error" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    private List<MetricPoint> Points(GraceHost host, string name)
    {
        host.Services.GetRequiredService<MeterProvider>().ForceFlush();
        var last = _metrics.LastOrDefault(m => m.Name == name);
        var points = new List<MetricPoint>();
        if (last is not null)
        {
            points.AddRange(last.MetricPoints);
        }

        return points;
    }

    private static string? Tag(MetricPoint point, string key)
    {
        foreach (var tag in point.Tags)
        {
            if (tag.Key == key)
            {
                return tag.Value?.ToString();
            }
        }

        return null;
    }

    [Fact]
    public async Task A_mission_is_one_trace_with_a_span_per_stage_and_its_metrics_move()
    {
        using var holder = TestCatalog.GrowWal(_folder.Combine("app.db"));
        await using var host = NewHost().Start();
        await SendAsync(host, TestCatalog.WalMessage);
        await SendAsync(host, TestCatalog.LoggingMessage);
        var healed = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.CompletedAt != null, "finished");
        var rolledBack = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-debug-logging" && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.Succeeded, healed.State);
        Assert.Equal(MissionState.RolledBack, rolledBack.State);
        await host.WaitUntilAsync(async db => await db.Outcomes.CountAsync(o => o.MissionId == healed.Id || o.MissionId == rolledBack.Id) == 2);
        // The learn span is written right after its commit.
        await Task.Delay(300);
        host.Services.GetRequiredService<TracerProvider>().ForceFlush();

        List<Activity> SpansOf(Mission mission)
        {
            lock (_spans)
            {
                return _spans.Where(s => s.GetTagItem("grace.mission.id") as string == mission.Id.ToString()).ToList();
            }
        }

        var spans = SpansOf(healed);
        var root = Assert.Single(spans, s => s.OperationName == "mission");
        Assert.Equal(default, root.ParentSpanId);
        var names = spans.Where(s => s != root).Select(s => s.OperationName).ToList();
        foreach (var stage in Stages)
        {
            Assert.Contains(stage, names);
        }

        Assert.DoesNotContain("rollback", names);
        // One trace: every stage is a child of the mission's root, and carries the incident, playbook and target.
        Assert.All(spans, s => Assert.Equal(root.TraceId, s.TraceId));
        Assert.All(spans.Where(s => s != root), s => Assert.Equal(root.SpanId, s.ParentSpanId));
        Assert.All(spans, s => Assert.Equal(healed.IncidentId.ToString(), s.GetTagItem("grace.incident.id")));
        Assert.All(spans, s => Assert.Equal("test-checkpoint", s.GetTagItem("grace.playbook")));
        Assert.All(spans, s => Assert.Equal("test-db", s.GetTagItem("grace.target")));
        Assert.Equal("Succeeded", spans.Single(s => s.OperationName == "learn").GetTagItem("grace.outcome"));
        // The stages follow one another in time.
        var order = Stages.Select(n => spans.First(s => s.OperationName == n)).ToList();
        for (var i = 1; i < order.Count; i++)
        {
            Assert.True(order[i].StartTimeUtc >= order[i - 1].StartTimeUtc, $"{order[i].OperationName} starts before {order[i - 1].OperationName}");
        }

        await using (var db = host.CreateDb())
        {
            // The context the stages hang on is the mission's own, stored with it.
            var stored = await db.Missions.AsNoTracking().SingleAsync(m => m.Id == healed.Id);
            Assert.Equal(root.Id, stored.TraceParent);
        }

        var failed = SpansOf(rolledBack);
        Assert.NotEqual(root.TraceId, failed.Single(s => s.OperationName == "mission").TraceId);
        var rollback = Assert.Single(failed, s => s.OperationName == "rollback");
        Assert.Equal(ActivityStatusCode.Error, failed.Single(s => s.OperationName == "learn").Status);

        // Metrics: missions by state and playbook, verdicts, durations, time to recover, signals.
        var missions = Points(host, "grace.missions");
        Assert.Equal(1, missions.Where(p => Tag(p, "state") == "Succeeded" && Tag(p, "playbook") == "test-checkpoint").Sum(p => p.GetSumLong()));
        Assert.Equal(1, missions.Where(p => Tag(p, "state") == "RolledBack" && Tag(p, "playbook") == "test-debug-logging").Sum(p => p.GetSumLong()));
        var verdicts = Points(host, "grace.contract.verdicts");
        Assert.Equal(1, verdicts.Where(p => Tag(p, "verdict") == "Met").Sum(p => p.GetSumLong()));
        Assert.Equal(1, verdicts.Where(p => Tag(p, "verdict") == "Failed").Sum(p => p.GetSumLong()));
        Assert.Equal(2, Points(host, "grace.action.duration").Sum(p => p.GetHistogramCount()));
        Assert.Equal(2, Points(host, "grace.verification.duration").Sum(p => p.GetHistogramCount()));
        var recover = Points(host, "grace.time_to_recover");
        Assert.Equal(1, recover.Sum(p => p.GetHistogramCount()));
        Assert.True(recover.Sum(p => p.GetHistogramSum()) > 0);
        Assert.True(Points(host, "grace.signals.accepted").Sum(p => p.GetSumLong()) >= 2);
        Assert.Equal(0, Points(host, "grace.signals.lost").Sum(p => p.GetSumLong()));
        _ = rollback;
    }

    [Fact]
    public async Task Gauges_report_open_incidents_and_the_oldest_pending_approval()
    {
        // test-clear-cache is tier 2: its mission waits for an approver.
        TestCatalog.FillCache(_folder.Combine("cache-root", "thumbnails"));
        await using var host = NewHost().Start();
        await SendAsync(host, TestCatalog.CacheMessage);
        await host.WaitForMissionAsync(m => m.State == MissionState.AwaitingApproval, "awaiting approval");
        await host.Get<Grace.Engine.Telemetry.TelemetrySnapshot>().RefreshAsync(default);
        Assert.True(Points(host, "grace.incidents.open").Sum(p => p.GetGaugeLastValueLong()) >= 1);
        Assert.Equal(1, Points(host, "grace.approvals.pending").Sum(p => p.GetGaugeLastValueLong()));
        Assert.True(Points(host, "grace.approvals.oldest_age").Sum(p => p.GetGaugeLastValueDouble()) >= 0);
    }

    [Fact]
    public async Task Metrics_access_is_an_api_key_with_the_metrics_scope_by_default()
    {
        await using var host = NewHost().Start();
        var keys = host.Get<ApiKeyService>();
        var admin = new Actor("admin", [GraceRoles.Admin]);
        var (_, ingestOnly) = await keys.CreateAsync("ingest", admin, default);
        var (_, metricsKey) = await keys.CreateAsync("prometheus", new ApiKeyLimits(ApiKeyScopes.Metrics, [], [], []), admin, default);

        using var anonymous = host.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics")).StatusCode);
        using var ingest = host.CreateClient();
        ingest.DefaultRequestHeaders.Authorization = new("Bearer", ingestOnly);
        var refused = await ingest.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("metrics:read", await refused.Content.ReadAsStringAsync());
        using var prometheus = host.CreateClient();
        prometheus.DefaultRequestHeaders.Authorization = new("Bearer", metricsKey);
        var scraped = await prometheus.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, scraped.StatusCode);
        var text = await scraped.Content.ReadAsStringAsync();
        Assert.Contains("grace_signals_accepted", text);
        Assert.Contains("grace_incidents_open", text);
        // A metrics key cannot send signals.
        var signal = await prometheus.PostAsJsonAsync("/api/signals", new { source = "x", message = "y" });
        Assert.Equal(HttpStatusCode.Forbidden, signal.StatusCode);
    }

    [Fact]
    public async Task Metrics_can_be_anonymous_or_disabled()
    {
        await using (var open = NewHost(("Grace:Telemetry:Metrics:Access", "Anonymous")).Start())
        {
            using var client = open.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
            var response = await client.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var text = await response.Content.ReadAsStringAsync();
            Assert.Contains("grace_signals_dropped", text);
            // ASP.NET Core's own request metrics come along.
            Assert.Contains("http_server_request_duration_seconds", text);
        }

        await using var off = NewHost(("Grace:Telemetry:Metrics:Access", "Disabled")).Start();
        using var offClient = off.CreateClient();
        var disabled = await offClient.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.NotFound, disabled.StatusCode);
        Assert.Contains("Grace:Telemetry:Metrics:Access", await disabled.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("Grace:Telemetry:Otlp:Endpoint", "not a url", "Grace:Telemetry:Otlp:Endpoint")]
    [InlineData("Grace:Telemetry:Otlp:Endpoint", "ftp://collector:4318", "Grace:Telemetry:Otlp:Endpoint")]
    [InlineData("Grace:Telemetry:Metrics:Access", "Everyone", "Grace:Telemetry:Metrics:Access")]
    [InlineData("Grace:Telemetry:Otlp:Headers", "no-equals-sign", "Grace:Telemetry:Otlp:Headers")]
    public void Bad_telemetry_settings_stop_the_start_naming_the_key(string key, string value, string named)
    {
        using var host = NewHost((key, value));
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        Assert.Contains(named, ex.ToString());
    }
}
