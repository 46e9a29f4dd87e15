using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Grace.Tests.Integration;

/// <summary>Dedup windows, recurrence and storm caps, through the real capture stage on a real SQLite file.</summary>
public sealed class StormTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private readonly ShiftedTimeProvider _time = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()), s => s.AddSingleton<TimeProvider>(_time)).Start();
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private Signal Noise(int i, int fingerprints) =>
        new("batch-job", $"Job {i % fingerprints} step failed after {i} ms on 10.0.{i % 250}.{i % 200}", Severity.Warning, _time.GetUtcNow(), ExceptionType: $"Jobs.Step{i % fingerprints}Exception");

    [Fact]
    public async Task A_million_signals_of_a_thousand_fingerprints_make_a_thousand_incidents()
    {
        var capture = _host.Get<CaptureService>();
        const int total = 1_000_000;
        const int batch = 20_000;
        for (var start = 0; start < total; start += batch)
        {
            await capture.ProcessBatchAsync(Enumerable.Range(start, batch).Select(i => Noise(i, 1000)).ToList(), default);
        }

        await using var db = _host.CreateDb();
        Assert.Equal(1000, await db.Incidents.CountAsync(i => i.Source == "batch-job"));
        Assert.Equal(total, await db.Incidents.Where(i => i.Source == "batch-job").SumAsync(i => i.Count));
    }

    [Fact]
    public async Task Repeats_inside_the_window_count_and_after_a_quiet_window_recur()
    {
        var capture = _host.Get<CaptureService>();
        await capture.ProcessBatchAsync([Noise(1, 5)], default);
        _time.Advance(TimeSpan.FromMinutes(30));
        await capture.ProcessBatchAsync([Noise(6, 5)], default);
        await using (var db = _host.CreateDb())
        {
            var incident = await db.Incidents.SingleAsync(i => i.Source == "batch-job");
            Assert.Equal(2, incident.Count);
            Assert.Equal(0, incident.Reopened);
        }

        _time.Advance(TimeSpan.FromMinutes(61));
        await capture.ProcessBatchAsync([Noise(11, 5)], default);
        await using (var db = _host.CreateDb())
        {
            var incident = await db.Incidents.SingleAsync(i => i.Source == "batch-job");
            Assert.Equal(3, incident.Count);
            Assert.Equal(1, incident.Reopened);
        }
    }

    [Fact]
    public void Storm_caps_hold_per_fingerprint_per_hour_and_overall_per_minute()
    {
        var options = new FixedOptionsMonitor<EngineOptions>(new EngineOptions { MaxMissionStartsPerFingerprintPerHour = 2, MaxMissionStartsPerMinute = 5 });
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var guard = new StormGuard(options, time);

        Assert.True(guard.TryStart("a"));
        Assert.True(guard.TryStart("a"));
        Assert.False(guard.TryStart("a"));
        Assert.True(guard.TryStart("b"));
        Assert.True(guard.TryStart("c"));
        Assert.True(guard.TryStart("d"));
        Assert.False(guard.TryStart("e"));
        Assert.Equal(2, guard.Suppressed);

        time.Advance(TimeSpan.FromMinutes(2));
        Assert.True(guard.TryStart("e"));
        Assert.False(guard.TryStart("a"));
        time.Advance(TimeSpan.FromHours(1));
        Assert.True(guard.TryStart("a"));
    }
}
