using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>Several instances folding repeats of one fingerprint into one incident at once, on a real PostgreSQL database.</summary>
public sealed class CaptureConcurrencyTests
{
    [Fact]
    public async Task Repeats_folded_by_two_instances_at_once_are_all_counted()
    {
        using var folder = new TempFolder();
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Postgres, folder);
        GraceHost Instance(string name) => new GraceHost(TestCatalog.Settings(folder).Concat(database.Settings(name, targetsOn: "grace-a"))).Start();
        await using var first = Instance("grace-a");
        await using var second = Instance("grace-b");

        const int Writers = 3, Batches = 20, PerBatch = 25;
        static Signal Repeat(int i) => new("billing-api", $"Payment gateway timed out after {i} ms", Severity.Error, DateTimeOffset.UtcNow, ExceptionType: "Billing.GatewayTimeoutException");

        // The first batch creates the incident, so every later one folds into the same row.
        await first.Get<CaptureService>().ProcessBatchAsync([Repeat(0)], default);
        async Task Fold(GraceHost host)
        {
            var capture = host.Get<CaptureService>();
            for (var b = 0; b < Batches; b++)
            {
                await capture.ProcessBatchAsync(Enumerable.Range(b * PerBatch, PerBatch).Select(Repeat).ToList(), default);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Writers).SelectMany(_ => new[] { Task.Run(() => Fold(first)), Task.Run(() => Fold(second)) }));

        await using var db = first.CreateDb();
        var incident = await db.Incidents.AsNoTracking().SingleAsync(i => i.Source == "billing-api");
        Assert.Equal(1 + (2 * Writers * Batches * PerBatch), incident.Count);
    }
}
