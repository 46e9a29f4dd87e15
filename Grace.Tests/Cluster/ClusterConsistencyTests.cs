using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Grace.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Cluster;

/// <summary>
/// What a cluster must not count or write once per instance: the database-wide gauges (one instance
/// reports them, so a dashboard's sum() is the database's figure; ADR draft-cluster-gauges) and the
/// suggested patterns (one miner for the cluster, so a family mined on three instances is one
/// suggestion; ADR draft-cluster-mining). Three real processes on a real PostgreSQL.
/// </summary>
public sealed partial class ClusterConsistencyTests(ClusterFixture cluster) : IClassFixture<ClusterFixture>
{
    private static readonly string[] Checkpoints =
    [
        "Orders writes are slow: checkpoint of /data/orders.db stalled after 1200 ms",
        "Orders writes are slow: checkpoint of /srv/cart/cart.db stalled after 80 ms",
        "Orders writes are slow: checkpoint of /var/lib/stock.db stalled after 15000 ms",
    ];

    private static readonly string[] Quotas =
    [
        "Disk quota exceeded for uid 1001 on /home/alice",
        "Disk quota exceeded for uid 0 on /srv/backup",
        "Disk quota exceeded for uid 4242 on /home/bob",
    ];

    private async Task SignalAsync(int instance, string source, string message)
    {
        var response = await cluster.Ingest[instance].PostAsJsonAsync("api/signals", new { source, message, severity = "Error" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [GeneratedRegex(@"^grace_incidents_open(?:\{[^}]*\})?\s+(\S+)", RegexOptions.Multiline)]
    private static partial Regex OpenIncidentsLine();

    /// <summary>Each instance's reported points of grace_incidents_open, as Prometheus scrapes them.</summary>
    private async Task<List<double>[]> ScrapeOpenIncidentsAsync()
    {
        var scrapes = new List<double>[cluster.Instances.Count];
        for (var i = 0; i < cluster.Instances.Count; i++)
        {
            using var client = new HttpClient { BaseAddress = cluster.Instances[i].BaseAddress };
            var text = await client.GetStringAsync("metrics");
            scrapes[i] = OpenIncidentsLine().Matches(text).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        }

        return scrapes;
    }

    [Fact]
    public async Task The_sum_of_open_incidents_over_the_instances_is_the_databases_count_and_one_instance_reports_it()
    {
        for (var i = 0; i < 6; i++)
        {
            await SignalAsync(i % 3, "cl-gauge", $"Gauge check {i}: replica lag on shard {i}");
        }

        long expected = 0;
        List<double>[] scrapes = [];
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            await using (var db = cluster.Db())
            {
                expected = await db.Incidents.AsNoTracking().LongCountAsync(i => i.Status != IncidentStatus.Resolved);
            }

            scrapes = await ScrapeOpenIncidentsAsync();
            if (expected > 0 && scrapes.Sum(s => s.Sum()) == expected)
            {
                break;
            }

            await Task.Delay(500);
        }

        Assert.True(expected >= 6, $"the database holds {expected} open incidents");
        Assert.Equal(expected, scrapes.Sum(s => s.Sum()));
        // One instance reports the gauge; the others export no point for it (not a zero).
        Assert.Single(scrapes, s => s.Count > 0);
        Assert.All(scrapes, s => Assert.True(s.Count <= 1));
    }

    [Fact]
    public async Task One_family_mined_on_three_instances_is_one_suggestion_not_one_per_instance()
    {
        // Each family's members reach different instances, so each instance plans (and hands over for mining) a share.
        for (var i = 0; i < 3; i++)
        {
            await SignalAsync(i, "cl-mined-orders", Checkpoints[i]);
            await SignalAsync((i + 1) % 3, "cl-mined-backup", Quotas[i]);
        }

        List<PatternSuggestion> rows = [];
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            await using (var db = cluster.Db())
            {
                rows = await db.PatternSuggestions.AsNoTracking().Where(p => p.Source.StartsWith("cl-mined-")).ToListAsync();
            }

            if (rows.Sum(r => r.IncidentCount) >= 6 && rows.All(r => r.IncidentCount == 3))
            {
                break;
            }

            await Task.Delay(500);
        }

        Assert.Equal(2, rows.Count);
        var orders = Assert.Single(rows, r => r.Source == "cl-mined-orders");
        var backup = Assert.Single(rows, r => r.Source == "cl-mined-backup");
        Assert.Equal(3, orders.IncidentCount);
        Assert.Equal(3, backup.IncidentCount);
        Assert.Equal("Orders writes are slow: checkpoint of <*> stalled after <*> ms", orders.Template);
    }
}
