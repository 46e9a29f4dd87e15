using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Integration;

/// <summary>
/// A capture transaction holds SQLite's one writer while it counts: it counts at most
/// Grace:Engine:CaptureIncidentsPerCommit incidents, so a mission write waits behind at most that
/// (ADR 0036). Every save of every context Grace makes is watched, on a real SQLite file.
/// </summary>
public sealed class CaptureCommitBoundTests
{
    private const int PerCommit = 16;

    private static Signal Job(int kind, int i) =>
        new("bound-job", $"Step failed after {i} ms", Severity.Warning, DateTimeOffset.UtcNow, ExceptionType: $"Bound.Kind{kind}Exception");

    private static GraceHost Start(TempFolder folder, SaveWatch watch) =>
        new GraceHost(TestCatalog.WithCaptureIncidentsPerCommit(folder, PerCommit), watch.Install).Start();

    [Fact]
    public async Task One_batch_of_many_fingerprints_is_committed_a_bounded_number_of_incidents_at_a_time()
    {
        using var folder = new TempFolder();
        var watch = new SaveWatch();
        await using var host = Start(folder, watch);
        var capture = host.Get<CaptureService>();

        // 100 fingerprints, three signals each, interleaved: one batch, as a burst of new faults arrives.
        const int kinds = 100;
        await capture.ProcessBatchAsync([.. Enumerable.Range(0, 3 * kinds).Select(i => Job(i % kinds, i))], default);
        var first = watch.CaptureSaves();
        // The same fingerprints again and ten new ones: the existing incidents are read and counted into, bounded the same way.
        await capture.ProcessBatchAsync([.. Enumerable.Range(0, 3 * kinds).Select(i => Job(i % kinds, i)), .. Enumerable.Range(kinds, 10).Select(k => Job(k, k))], default);
        var all = watch.CaptureSaves();

        Assert.True(first.Count >= (kinds + PerCommit - 1) / PerCommit, $"{kinds} incidents were stored in {first.Count} capture commits");
        Assert.True(all.Max() <= PerCommit, $"a capture commit held {all.Max()} incidents (each: {string.Join(", ", all)})");
        Assert.True(all.Count - first.Count >= (kinds + 10 + PerCommit - 1) / PerCommit, $"{kinds + 10} incidents were counted in {all.Count - first.Count} capture commits");
        Assert.Equal(0, watch.OutsideBulkLane);

        await using var db = host.CreateDb();
        var counts = await db.Incidents.AsNoTracking().Where(i => i.Source == "bound-job").Select(i => i.Count).ToListAsync();
        Assert.Equal(kinds + 10, counts.Count);
        Assert.Equal(kinds, counts.Count(c => c == 6));
        Assert.Equal(10, counts.Count(c => c == 1));
    }

    [Fact]
    public async Task A_batch_whose_later_commit_fails_is_stored_again_from_there_without_counting_twice()
    {
        using var folder = new TempFolder();
        var watch = new SaveWatch();
        await using var host = Start(folder, watch);
        var intake = host.Get<SignalIntake>();

        // The writer is held while the signals arrive, so capture takes most of them in one batch of several
        // commits; the last fingerprint's commit fails once, after the commits before it in the batch succeeded.
        var signals = Enumerable.Range(0, 2 * 80).Select(i => Job(i % 80, i)).Append(Job(999, 0)).ToList();
        watch.FailOnceWhenAdding = "Bound.Kind999Exception";
        StoreReceipt receipt;
        await using (await WriterHold.TakeAsync(host))
        {
            (_, receipt) = intake.TryWriteAndConfirm(signals);
        }

        await receipt.Stored.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, watch.Failed);
        var saves = watch.CaptureSaves();
        Assert.True(saves.Max() <= PerCommit, $"a capture commit held {saves.Max()} incidents");

        await using var db = host.CreateDb();
        var counts = await db.Incidents.AsNoTracking().Where(i => i.Source == "bound-job").ToDictionaryAsync(i => i.ExceptionType!, i => i.Count);
        Assert.Equal(81, counts.Count);
        Assert.All(counts.Where(c => c.Key != "Bound.Kind999Exception"), c => Assert.Equal(2, c.Value));
        Assert.Equal(1, counts["Bound.Kind999Exception"]);
    }

    /// <summary>Watches the saves of every context Grace makes: how many capture incidents each one holds.</summary>
    private sealed class SaveWatch
    {
        private readonly List<int> _captureSaves = [];
        private int _outsideBulk;
        private int _failed;

        public string? FailOnceWhenAdding { get; set; }

        public int OutsideBulkLane => Volatile.Read(ref _outsideBulk);

        public int Failed => Volatile.Read(ref _failed);

        /// <summary>Incidents of the test's source held by each capture save so far (capture is what adds them).</summary>
        public List<int> CaptureSaves()
        {
            lock (_captureSaves)
            {
                return [.. _captureSaves];
            }
        }

        private void OnSaving(object? sender, SavingChangesEventArgs e)
        {
            var entries = ((DbContext)sender!).ChangeTracker.Entries<Incident>().Where(i => i.Entity.Source == "bound-job").ToList();
            if (!entries.Any(i => i.State == EntityState.Added) && !SqliteWritePriority.IsBulk)
            {
                return; // Not capture's (planning and mining track one incident at a time).
            }

            if (!SqliteWritePriority.IsBulk)
            {
                Interlocked.Increment(ref _outsideBulk);
            }

            if (FailOnceWhenAdding is { } poison && entries.Any(i => i.State == EntityState.Added && i.Entity.ExceptionType == poison)
                && Interlocked.CompareExchange(ref _failed, 1, 0) == 0)
            {
                throw new InvalidOperationException("A capture commit fails once (test)");
            }

            lock (_captureSaves)
            {
                _captureSaves.Add(entries.Count);
            }
        }

        public void Install(IServiceCollection services) => SavingHook.Install(services, OnSaving);
    }
}
