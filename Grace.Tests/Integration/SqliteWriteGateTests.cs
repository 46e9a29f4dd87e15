using System.Diagnostics;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>
/// SQLite has one writer. While one writer takes it back to back (as capture's group commits do
/// under a stream of signals), another write must get its turn as soon as the current transaction
/// ends, not whenever SQLite's busy handler happens to poll in a gap (seconds, or never).
/// </summary>
public sealed class SqliteWriteGateTests
{
    [Fact]
    public async Task A_write_gets_its_turn_between_back_to_back_write_transactions()
    {
        using var folder = new TempFolder();
        await using var host = new GraceHost(TestCatalog.Settings(folder)).Start();
        var factory = host.Get<IDbContextFactory<Data.GraceDbContext>>();
        await using (var setup = await factory.CreateDbContextAsync())
        {
            await setup.Database.ExecuteSqlRawAsync("CREATE TABLE gate_test(id INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT NOT NULL)");
        }

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var batches = 0;
        var busyWriter = Task.Run(async () =>
        {
            // Each transaction holds the writer for a few milliseconds and the next one begins at once.
            while (!stop.IsCancellationRequested)
            {
                await using var db = await factory.CreateDbContextAsync();
                await using var transaction = await db.Database.BeginTransactionAsync();
                await db.Database.ExecuteSqlRawAsync("INSERT INTO gate_test(who) VALUES ('batch')");
                await Task.Delay(5);
                await transaction.CommitAsync();
                Interlocked.Increment(ref batches);
            }
        });

        // The busy writer is under way: it has committed back to back at least twice.
        for (var deadline = DateTime.UtcNow.AddSeconds(20); Volatile.Read(ref batches) < 2 && DateTime.UtcNow < deadline; await Task.Delay(1))
        {
        }

        var batchesBefore = Volatile.Read(ref batches);
        var waits = new List<double>();
        for (var i = 0; i < 10; i++)
        {
            await using var db = await factory.CreateDbContextAsync();
            var started = Stopwatch.GetTimestamp();
            // A statement of its own (as ExecuteUpdate is), then a transaction (as SaveChanges is).
            await db.Database.ExecuteSqlRawAsync("INSERT INTO gate_test(who) VALUES ('bare')");
            await using (var transaction = await db.Database.BeginTransactionAsync())
            {
                await db.Database.ExecuteSqlRawAsync("INSERT INTO gate_test(who) VALUES ('transaction')");
                await transaction.CommitAsync();
            }

            waits.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        var batchesDuring = Volatile.Read(ref batches) - batchesBefore;
        await stop.CancelAsync();
        await busyWriter;

        // The writes really had to get their turns from a busy writer: it kept committing meanwhile.
        Assert.True(batchesBefore >= 2, $"the busy writer never got going ({batchesBefore} transactions)");
        Assert.True(batchesDuring >= 5, $"the busy writer committed only {batchesDuring} transactions while the 20 writes ran");
        // Each of the ten waits behind at most one or two 5 ms transactions; polling SQLite's busy
        // handler takes seconds per write (or gives up after the busy timeout).
        Assert.True(waits.Sum() < 3000, $"20 writes took {waits.Sum():0} ms in all (each: {string.Join(", ", waits.Select(w => w.ToString("0")))})");
    }
}
