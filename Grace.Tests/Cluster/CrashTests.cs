using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Cluster;

/// <summary>
/// kill -9 in the middle of a stream of signals, on the embedded SQLite default: every signal
/// answered 202 before the kill is in the database afterwards, and the incidents the kill stranded
/// between storing and planning are planned once Grace is back.
/// </summary>
public sealed class CrashTests : IAsyncLifetime
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private readonly TempFolder _folder = new();
    private RecordingTarget _recorder = null!;

    public async Task InitializeAsync() => _recorder = await RecordingTarget.StartAsync();

    public async Task DisposeAsync()
    {
        await _recorder.DisposeAsync();
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    [Fact]
    public async Task Signals_answered_202_survive_kill_9_and_stranded_incidents_are_planned_after_the_restart()
    {
        var database = _folder.Combine("grace.db");
        var settings = _folder.Combine("grace.json");
        await File.WriteAllTextAsync(settings, JsonSerializer.Serialize(Catalog(database), Indented));
        await using var grace = await GraceProcess.StartAsync("grace", settings, new Dictionary<string, string>());
        using var ingest = await grace.IngestClientAsync(TestCatalog.AdminPassword);

        // Eight senders: repeats of a few fingerprints (counted), and new ones (each a new incident to plan).
        var acknowledged = new ConcurrentDictionary<string, int>();
        using var stop = new CancellationTokenSource();
        var senders = Enumerable.Range(0, 8).Select(sender => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var source = sender % 2 == 0 ? $"crash-repeat-{sender}" : $"crash-new-{sender}-{i}";
                try
                {
                    using var response = await ingest.PostAsJsonAsync("api/signals", new { source, message = "The crash test's service failed", severity = "Error" });
                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        acknowledged.AddOrUpdate(source, 1, (_, n) => n + 1);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    // The process died under this request: no answer, no promise.
                }
            }
        })).ToList();

        for (var deadline = DateTime.UtcNow.AddSeconds(60); acknowledged.Values.Sum() < 400; await Task.Delay(50))
        {
            Assert.True(DateTime.UtcNow < deadline, $"Only {acknowledged.Values.Sum()} signals were acknowledged:\n{grace.Output}");
        }

        grace.Kill();
        await stop.CancelAsync();
        await Task.WhenAll(senders);
        var promised = acknowledged.ToDictionary();

        int strandedAtKill;
        await using (var db = Open(database))
        {
            var stored = await db.Incidents.AsNoTracking().Where(i => i.Source.StartsWith("crash-")).ToDictionaryAsync(i => i.Source, i => i.Count);
            var lost = promised.Where(p => stored.GetValueOrDefault(p.Key) < p.Value).Select(p => $"{p.Key}: {p.Value} acknowledged, {stored.GetValueOrDefault(p.Key)} stored").ToList();
            Assert.True(lost.Count == 0, $"Acknowledged signals were lost:\n{string.Join("\n", lost)}");
            strandedAtKill = await db.Incidents.CountAsync(i => i.PlanPending);
        }

        // Planning waits on a slow baseline reading, so the kill leaves incidents stored but not planned.
        Assert.True(strandedAtKill > 0, "The kill stranded no incident; the test proves nothing about stranded ones.");

        await grace.StartAgainAsync();
        for (var deadline = DateTime.UtcNow.AddSeconds(120); ; await Task.Delay(250))
        {
            await using var db = Open(database);
            var pending = await db.Incidents.CountAsync(i => i.PlanPending);
            if (pending == 0)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{pending} incidents are still waiting to be planned after the restart:\n{grace.Output}");
        }

        await using (var db = Open(database))
        {
            // Every new incident got a mission or joined the one already under way for its playbook and target.
            var unplanned = await db.Incidents.AsNoTracking()
                .Where(i => i.Source.StartsWith("crash-new-"))
                .Where(i => !db.Missions.Any(m => m.IncidentId == i.Id) && !db.MissionEvents.Any(e => e.IncidentId == i.Id))
                .Select(i => i.Source).ToListAsync();
            Assert.Empty(unplanned);
        }

        Assert.Empty(_recorder.Duplicates());
    }

    private static SqliteGraceDbContext Open(string file) =>
        new(new DbContextOptionsBuilder<SqliteGraceDbContext>().UseSqlite($"Data Source={file};Pooling=false").Options);

    private Dictionary<string, object> Catalog(string database) => new()
    {
        ["Serilog"] = new { MinimumLevel = new { Default = "Warning", Override = new Dictionary<string, string> { ["Grace"] = "Information" } }, WriteTo = new[] { new { Name = "Console" } } },
        ["Grace"] = new Dictionary<string, object>
        {
            ["Database"] = new { Provider = "Sqlite", ConnectionString = $"Data Source={database}" },
            ["Identity"] = new { TestCatalog.AdminPassword },
            ["Ingestion"] = new { RequestsPerSecondPerKey = 100_000, BurstPerKey = 100_000 },
            ["Engine"] = new
            {
                SweepIntervalSeconds = 1,
                DefaultCooldownSeconds = 0,
                MaxRunsPerHour = 10_000,
                MaxMissionStartsPerFingerprintPerHour = 1000,
                MaxMissionStartsPerMinute = 100_000,
                QuarantineDirectory = _folder.Combine("quarantine"),
            },
            // The recording service's witness contract holds before the action: these tests are about exclusion and recovery.
            ["Autonomy"] = new { VacuousContract = "Act" },
            ["Targets"] = new Dictionary<string, object> { ["crash"] = new { Kind = "Http", Url = _recorder.Url } },
            ["Patterns"] = new Dictionary<string, object> { ["crash"] = new { Source = "crash-", Playbooks = new[] { "act-crash" } } },
            ["Playbooks"] = new Dictionary<string, object>
            {
                ["act-crash"] = new
                {
                    Action = "http.call",
                    Target = "crash",
                    Tier = 0,
                    CooldownSeconds = 0,
                    Parameters = new { Path = RecordingTarget.PathOf("crash", "act") },
                    // The baseline is read before a mission is written: a slow one keeps incidents waiting to be planned.
                    Contract = new { Probe = "http.latency-ms", Parameters = new { Path = RecordingTarget.PathOf("crash", "slow-ok") }, Comparator = "GreaterThanOrEqual", Threshold = 0, DeadlineSeconds = 30 },
                },
            },
        },
    };
}
