using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>
/// Several writers folding repeats of one fingerprint into one incident at once: two instances on
/// a real PostgreSQL database, and several capture writers on one SQLite file (one process owns it).
/// </summary>
public sealed class CaptureConcurrencyTests
{
    private const int Writers = 3, Batches = 20, PerBatch = 25;

    private static Signal Repeat(string source, int i) =>
        new(source, $"Payment gateway timed out after {i} ms", Severity.Error, DateTimeOffset.UtcNow, ExceptionType: "Billing.GatewayTimeoutException");

    private static async Task<(TestDatabase Database, GraceHost First, GraceHost Second)> StartAsync(DatabaseProvider provider, TempFolder folder)
    {
        var database = await TestDatabase.CreateAsync(provider, folder);
        GraceHost Instance(string name) => new GraceHost(TestCatalog.Settings(folder).Concat(database.Settings(name, targetsOn: "grace-a"))).Start();
        var first = Instance("grace-a");
        // One process owns a SQLite file: its writers are the second "instance" too.
        var second = provider == DatabaseProvider.Sqlite ? first : Instance("grace-b");
        return (database, first, second);
    }

    private static async Task FoldAsync(GraceHost first, GraceHost second, string source)
    {
        async Task Fold(GraceHost host)
        {
            var capture = host.Get<CaptureService>();
            for (var b = 0; b < Batches; b++)
            {
                await capture.ProcessBatchAsync(Enumerable.Range(b * PerBatch, PerBatch).Select(i => Repeat(source, i)).ToList(), default);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Writers).SelectMany(_ => new[] { Task.Run(() => Fold(first)), Task.Run(() => Fold(second)) }));
    }

    [Theory]
    [InlineData(DatabaseProvider.Sqlite)]
    [InlineData(DatabaseProvider.Postgres)]
    public async Task Repeats_folded_by_two_instances_at_once_are_all_counted(DatabaseProvider provider)
    {
        using var folder = new TempFolder();
        var (database, first, second) = await StartAsync(provider, folder);
        await using var _ = database;
        await using var __ = first;
        await using var ___ = second == first ? null : second;

        // The first batch creates the incident, so every later one folds into the same row.
        await first.Get<CaptureService>().ProcessBatchAsync([Repeat("billing-api", 0)], default);
        var before = DateTimeOffset.UtcNow;
        await FoldAsync(first, second, "billing-api");

        await using var db = first.CreateDb();
        var incident = await db.Incidents.AsNoTracking().SingleAsync(i => i.Source == "billing-api");
        Assert.Equal(1 + (2 * Writers * Batches * PerBatch), incident.Count);
        Assert.True(incident.LastSeenAt >= before, $"last seen {incident.LastSeenAt:O} is before the last repeats ({before:O})");
    }

    [Theory]
    [InlineData(DatabaseProvider.Sqlite)]
    [InlineData(DatabaseProvider.Postgres)]
    public async Task A_new_fingerprint_first_seen_by_several_writers_at_once_is_one_incident_with_every_repeat_counted(DatabaseProvider provider)
    {
        using var folder = new TempFolder();
        var (database, first, second) = await StartAsync(provider, folder);
        await using var _ = database;
        await using var __ = first;
        await using var ___ = second == first ? null : second;

        // No incident yet: every writer's first batch tries to create it (the unique fingerprint refuses all but one).
        await FoldAsync(first, second, "payments-api");

        await using var db = first.CreateDb();
        var incident = await db.Incidents.AsNoTracking().SingleAsync(i => i.Source == "payments-api");
        Assert.Equal(2 * Writers * Batches * PerBatch, incident.Count);
    }

    [Fact]
    public async Task Batches_of_many_fingerprints_captured_by_several_writers_at_once_are_each_grouped_and_counted()
    {
        // Each call groups its own batch: a grouping shared between callers mixed their fingerprints and
        // failed (or miscounted) when two batches were grouped at once. Threads of their own, released
        // together, so the groupings overlap on two cores rather than queue behind the thread pool.
        const int writers = 8, batches = 3, sources = 200, repeatsPerBatch = 20;
        using var folder = new TempFolder();
        var (database, host, _) = await StartAsync(DatabaseProvider.Sqlite, folder);
        await using var __ = database;
        await using var ___ = host;
        var capture = host.Get<CaptureService>();
        using var start = new Barrier(writers);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();

        void Write(int writer)
        {
            try
            {
                for (var b = 0; b < batches; b++)
                {
                    var batch = Enumerable.Range(0, sources * repeatsPerBatch).Select(i => Repeat($"fleet-{writer}-{i % sources}", i)).ToList();
                    start.SignalAndWait(TimeSpan.FromSeconds(30));
                    capture.ProcessBatchAsync(batch, default).GetAwaiter().GetResult();
                }
            }
            catch (Exception ex)
            {
                failures.Enqueue(ex);
                start.RemoveParticipant();
            }
        }

        var threads = Enumerable.Range(0, writers).Select(w => new Thread(() => Write(w))).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Empty(failures);
        await using var db = host.CreateDb();
        var counts = await db.Incidents.AsNoTracking().Where(i => i.Source.StartsWith("fleet-")).Select(i => i.Count).ToListAsync();
        Assert.Equal(writers * sources, counts.Count);
        Assert.All(counts, count => Assert.Equal(batches * repeatsPerBatch, count));
    }
}
