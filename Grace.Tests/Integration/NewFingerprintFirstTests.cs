using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Integration;

/// <summary>
/// A new fingerprint that a pattern would plan is diagnosed on arrival and committed before the
/// repeats queued ahead of it, in a commit that queues with mission writes (ADR 0038); signals of one
/// fingerprint are still stored in the order they came. Real SQLite file, real capture loop; the
/// test holds SQLite's one writer so that signals pile up behind a capture commit, as under load.
/// </summary>
public sealed class NewFingerprintFirstTests
{
    private const int PerCommit = 16;

    private static Signal Noise(int kind, int i) =>
        new("first-noise", $"Step failed after {i} ms", Severity.Warning, DateTimeOffset.UtcNow, ExceptionType: $"First.Kind{kind}Exception");

    private static GraceHost Start(TempFolder folder, SaveOrder order) =>
        new GraceHost(TestCatalog.WithCaptureIncidentsPerCommit(folder, PerCommit), order.Install).Start();

    [Fact]
    public async Task A_new_fingerprint_a_pattern_would_plan_is_committed_before_the_repeats_queued_ahead_of_it()
    {
        using var folder = new TempFolder();
        var order = new SaveOrder();
        await using var host = Start(folder, order);
        var intake = host.Get<SignalIntake>();

        // 80 fingerprints no pattern plans, twice each (ten capture commits of 16), then one that the test-cache pattern plans.
        var noise = Enumerable.Range(0, 160).Select(i => Noise(i % 80, i)).ToList();
        var probe = new Signal("first-probe", TestCatalog.CacheMessage, Severity.Error, DateTimeOffset.UtcNow);
        StoreReceipt noiseStored, probeStored;
        await using (await WriterHold.TakeAsync(host))
        {
            (_, noiseStored) = intake.TryWriteAndConfirm(noise);
            (_, probeStored) = intake.TryWriteAndConfirm([probe]);
        }

        await Task.WhenAll(noiseStored.Stored, probeStored.Stored).WaitAsync(TimeSpan.FromSeconds(30));
        var saves = order.Saves();
        var probeAt = saves.FindIndex(s => s.Sources.Contains("first-probe"));
        var noiseSaves = saves.Count(s => s.Sources.Contains("first-noise"));
        Assert.True(noiseSaves >= 80 / PerCommit, $"the repeats were stored in {noiseSaves} commits");
        // Capture may have taken the first signals before the rest arrived; the probe then goes right after that one commit.
        Assert.True(probeAt is 0 or 1, $"the new fingerprint was commit {probeAt} of {saves.Count}: {string.Join(" | ", saves.Select(s => string.Join(",", s.Sources)))}");
        Assert.False(saves[probeAt].Bulk, "the new fingerprint's commit queued in capture's bulk lane");
        Assert.All(saves.Where(s => s.Sources.Contains("first-noise")), s => Assert.True(s.Bulk));

        await using var db = host.CreateDb();
        var counts = await db.Incidents.AsNoTracking().Where(i => i.Source == "first-noise").Select(i => i.Count).ToListAsync();
        Assert.Equal(80, counts.Count);
        Assert.All(counts, c => Assert.Equal(2, c));
        var incident = await db.Incidents.AsNoTracking().SingleAsync(i => i.Source == "first-probe");
        Assert.Equal(1, incident.Count);
        // ...and planned as usual.
        await host.WaitUntilAsync(check => check.Missions.AnyAsync(m => m.IncidentId == incident.Id), timeoutSeconds: 20);
    }

    [Fact]
    public async Task A_fingerprint_with_a_signal_still_waiting_in_the_batch_does_not_go_first()
    {
        using var folder = new TempFolder();
        var order = new SaveOrder();
        await using var host = Start(folder, order);
        var intake = host.Get<SignalIntake>();

        // One fingerprint (the template) first reported in words no pattern matches, then in words the test-cache pattern matches.
        const string template = "Thumbnail store {Store} rejected a write";
        var unmatched = new Signal("first-order", "Thumbnail store A rejected a write", Severity.Error, DateTimeOffset.UtcNow, MessageTemplate: template);
        var matched = new Signal("first-order", $"Thumbnail store A rejected a write: {TestCatalog.CacheMessage}", Severity.Error, DateTimeOffset.UtcNow, MessageTemplate: template);
        Assert.Equal(Fingerprinter.Compute(unmatched), Fingerprinter.Compute(matched));

        await using (await WriterHold.TakeAsync(host))
        {
            // Capture takes the noise and the unmatched report in one batch and waits for the writer...
            intake.TryWriteAndConfirm([.. Enumerable.Range(0, 80).Select(i => Noise(i, i)), unmatched]);
            for (var i = 0; intake.Buffered > 0 && i < 200; i++)
            {
                await Task.Delay(50);
            }

            Assert.Equal(0, intake.Buffered);
            // ...and finds the matching report when it looks ahead between two of that batch's commits.
            intake.TryWriteAndConfirm([matched]);
        }

        await host.WaitUntilAsync(check => check.Incidents.AnyAsync(i => i.Source == "first-order" && i.Count == 2), timeoutSeconds: 20);

        // Stored in the order they came: the later report's words are the incident's sample.
        await using var db = host.CreateDb();
        var incident = await db.Incidents.AsNoTracking().SingleAsync(i => i.Source == "first-order");
        Assert.Equal(matched.Message, incident.SampleMessage);
        var saves = order.Saves();
        Assert.True(saves.Count(s => s.Sources.Contains("first-order")) == 2, "each report in a commit of its own batch");
    }

    /// <summary>The order of every save that adds or counts incidents, the sources of those incidents, and whether it queued in the bulk lane.</summary>
    private sealed class SaveOrder
    {
        private readonly List<(HashSet<string> Sources, bool Bulk)> _saves = [];

        public List<(HashSet<string> Sources, bool Bulk)> Saves()
        {
            lock (_saves)
            {
                return [.. _saves];
            }
        }

        private void OnSaving(object? sender, SavingChangesEventArgs e)
        {
            var incidents = ((DbContext)sender!).ChangeTracker.Entries<Incident>()
                .Where(i => i.State is EntityState.Added or EntityState.Modified && i.Entity.Source.StartsWith("first-", StringComparison.Ordinal))
                .Select(i => i.Entity.Source)
                .ToHashSet();
            // Capture adds or counts several incidents at once; planning marks one incident it plans (Modified, never Added).
            var isCapture = ((DbContext)sender!).ChangeTracker.Entries<IncidentEvent>().Any(x => x.State == EntityState.Added && x.Entity.Kind == IncidentEventKind.Opened)
                || SqliteWritePriority.IsBulk;
            if (incidents.Count == 0 || !isCapture)
            {
                return;
            }

            lock (_saves)
            {
                _saves.Add((incidents, SqliteWritePriority.IsBulk));
            }
        }

        public void Install(IServiceCollection services) => SavingHook.Install(services, OnSaving);
    }
}
