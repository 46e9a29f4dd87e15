using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Integration;

/// <summary>
/// Issue 15: a real Prometheus (2.42, started by scripts/test.sh) scrapes Grace's <c>/metrics</c>
/// with an API key holding <c>metrics:read</c>, and a PromQL query over its HTTP API returns
/// Grace's mission counter with the value the mission gave it.
/// </summary>
public sealed class PrometheusScrapeTests : SqliteDatabaseTest
{
    private static string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"{name} is not set: run the tests with `bash scripts/test.sh`, which installs and starts Prometheus.");

    [Fact]
    public async Task Prometheus_scrapes_grace_and_promql_returns_the_mission_counter()
    {
        var prometheus = Env("GRACE_TEST_PROMETHEUS_URL");
        var sdFile = Env("GRACE_TEST_PROMETHEUS_SD_FILE");
        var key = Env("GRACE_TEST_PROMETHEUS_KEY");
        var run = Guid.NewGuid().ToString("N")[..12];
        using var holder = TestCatalog.GrowWal(Folder.Combine("app.db"));

        await using var host = new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()));
        host.UseKestrel(0);
        host.StartServer();
        var address = new Uri(host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()
            .Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));

        // Prometheus' scrape configuration carries this key: Grace stores its hash, scoped to metrics only.
        await using (var db = host.CreateDb())
        {
            db.ApiKeys.Add(new ApiKey
            {
                Id = Guid.NewGuid(), Name = "prometheus", Prefix = string.Join('_', key.Split('_').Take(2)), CreatedBy = "tests", CreatedAt = DateTimeOffset.UtcNow,
                Hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key))), Scopes = ApiKeyScopes.Metrics,
            });
            await db.SaveChangesAsync();
        }

        await File.WriteAllTextAsync(sdFile, JsonSerializer.Serialize(new[] { new { targets = new[] { $"127.0.0.1:{address.Port}" }, labels = new { run } } }));
        try
        {
            using (var client = host.IngestClient())
            {
                var response = await client.PostAsJsonAsync("/api/signals", new { source = "orders-api", message = TestCatalog.WalMessage, severity = "Error" });
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }

            var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.CompletedAt != null, "finished");
            Assert.Equal(MissionState.Succeeded, mission.State);

            using var api = new HttpClient { BaseAddress = new Uri(prometheus) };
            // Scraped with the key (up is 1 only when the scrape answered 200), and the counter as the mission left it.
            Assert.Equal("1", await QueryUntilAsync(api, $"up{{run=\"{run}\"}}", "1"));
            Assert.Equal("1", await QueryUntilAsync(api, $"sum(grace_missions_total{{run=\"{run}\",state=\"Succeeded\",playbook=\"test-checkpoint\"}})", "1"));
            Assert.Equal("1", await QueryUntilAsync(api, $"sum(grace_contract_verdicts_total{{run=\"{run}\",verdict=\"Met\"}})", "1"));
            Assert.Equal("1", await QueryUntilAsync(api, $"sum(grace_time_to_recover_seconds_count{{run=\"{run}\"}})", "1"));
            // SQLite's one writer: how long the mission's commits waited for it and held it.
            Assert.Equal("1", await QueryUntilAsync(api, $"sum(grace_sqlite_writer_hold_milliseconds_count{{run=\"{run}\",lane=\"mission\"}}) > bool 0", "1"));
            Assert.Equal("1", await QueryUntilAsync(api, $"sum(grace_sqlite_writer_wait_milliseconds_count{{run=\"{run}\",lane=\"mission\"}}) > bool 0", "1"));
        }
        finally
        {
            await File.WriteAllTextAsync(sdFile, "[]");
        }
    }

    /// <summary>Runs an instant query until its single value is <paramref name="expected"/> (scrapes are every second), or returns the last seen.</summary>
    private static async Task<string?> QueryUntilAsync(HttpClient api, string promql, string expected)
    {
        string? last = null;
        var until = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < until)
        {
            var json = await api.GetFromJsonAsync<JsonElement>($"api/v1/query?query={Uri.EscapeDataString(promql)}");
            Assert.Equal("success", json.GetProperty("status").GetString());
            var result = json.GetProperty("data").GetProperty("result");
            last = result.GetArrayLength() == 1 ? result[0].GetProperty("value")[1].GetString() : $"{result.GetArrayLength()} series";
            if (last == expected)
            {
                return last;
            }

            await Task.Delay(500);
        }

        return last;
    }
}
