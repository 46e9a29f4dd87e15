using System.Diagnostics;
using Grace.Data;
using Grace.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Integration;

/// <summary>
/// SQLite has one writer. While one writer takes it back to back (as capture's group commits do
/// under a stream of signals), another write must get its turn as soon as the current transaction
/// ends, not whenever SQLite's busy handler happens to poll in a gap (seconds, or never). A waiting
/// mission write goes before waiting capture (bulk) writes, and bulk is never starved (ADR 0036).
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

    private static readonly TimeSpan Turn = TimeSpan.FromSeconds(30);

    /// <summary>Waits (without sleeping) until the gate has this many writers queued.</summary>
    private static async Task WaitForWaitingAsync(SqliteWriteGate gate, int waiting)
    {
        var deadline = Stopwatch.StartNew();
        while (gate.Waiting != waiting)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"{gate.Waiting} writers waiting, expected {waiting}");
            await Task.Yield();
        }
    }

    /// <summary>Asks for the writer in a lane; the place in the queue is taken before this returns.</summary>
    private static Task Queue(SqliteWriteGate gate, bool bulk)
    {
        using var lane = bulk ? SqliteWritePriority.Bulk() : default;
        return gate.EnterAsync(Turn, default);
    }

    [Fact]
    public async Task The_gate_reports_how_long_each_lane_waited_for_the_writer_and_held_it()
    {
        var measured = new System.Collections.Concurrent.ConcurrentQueue<(string Instrument, string? Lane, double Ms)>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == SqliteWriterMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            string? lane = null;
            foreach (var tag in tags)
            {
                lane = tag.Key == SqliteWriterMetrics.LaneTag ? tag.Value as string : lane;
            }

            measured.Enqueue((instrument.Name, lane, value));
        });
        listener.Start();

        var gate = SqliteWriteGate.For(":memory:");
        await gate.EnterAsync(Turn, default); // A mission write holds the writer...
        var bulk = Queue(gate, bulk: true); // ...while a capture commit waits for it.
        await WaitForWaitingAsync(gate, 1);
        await Task.Delay(60);
        gate.Exit();
        await bulk.WaitAsync(Turn);
        await Task.Delay(60);
        gate.Exit();

        // Other tests write meanwhile, so these are among what was measured, not all of it.
        Assert.Contains(measured, m => m is { Instrument: "grace.sqlite.writer.hold", Lane: "mission", Ms: >= 50 });
        Assert.Contains(measured, m => m is { Instrument: "grace.sqlite.writer.wait", Lane: "bulk", Ms: >= 50 });
        Assert.Contains(measured, m => m is { Instrument: "grace.sqlite.writer.hold", Lane: "bulk", Ms: >= 50 });
        Assert.Contains(measured, m => m is { Instrument: "grace.sqlite.writer.wait", Lane: "mission" });
    }

    [Fact]
    public async Task Every_context_from_the_pool_writes_in_a_transaction_however_the_last_lease_left_it()
    {
        using var folder = new TempFolder();
        await using var host = new GraceHost(TestCatalog.Settings(folder)).Start();
        var factory = host.Get<IDbContextFactory<Data.GraceDbContext>>();
        // Leased and given back changed: a context pool resets what a context set on itself.
        var leased = new List<Data.GraceDbContext>();
        for (var i = 0; i < 8; i++)
        {
            var db = await factory.CreateDbContextAsync();
            db.Database.AutoTransactionBehavior = AutoTransactionBehavior.Never;
            leased.Add(db);
        }

        foreach (var db in leased)
        {
            await db.DisposeAsync();
        }

        for (var i = 0; i < 8; i++)
        {
            await using var db = await factory.CreateDbContextAsync();
            // Otherwise a one-statement SaveChanges would skip the write gate and poll SQLite's busy handler instead.
            Assert.Equal(AutoTransactionBehavior.Always, db.Database.AutoTransactionBehavior);
        }
    }

    [Fact]
    public async Task A_mission_write_goes_before_waiting_bulk_writes_and_each_lane_keeps_its_order()
    {
        var gate = SqliteWriteGate.For(":memory:");
        await gate.EnterAsync(Turn, default); // The writer is held (a capture commit under way).
        var bulk1 = Queue(gate, bulk: true);
        await WaitForWaitingAsync(gate, 1);
        var bulk2 = Queue(gate, bulk: true);
        await WaitForWaitingAsync(gate, 2);
        var mission1 = Queue(gate, bulk: false);
        await WaitForWaitingAsync(gate, 3);
        var mission2 = Queue(gate, bulk: false);
        await WaitForWaitingAsync(gate, 4);

        // Each exit hands the writer to exactly one waiter: the missions first, then the bulk writes, each lane in order.
        var order = new List<(Task Entered, string Name)> { (mission1, "mission 1"), (mission2, "mission 2"), (bulk1, "bulk 1"), (bulk2, "bulk 2") };
        for (var i = 0; i < order.Count; i++)
        {
            gate.Exit();
            await order[i].Entered.WaitAsync(Turn);
            var early = order.Skip(i + 1).Where(w => w.Entered.IsCompleted).Select(w => w.Name).ToList();
            Assert.True(early.Count == 0, $"{string.Join(", ", early)} got the writer together with {order[i].Name}");
        }

        Assert.Equal(0, gate.Waiting);
        gate.Exit();
        await gate.EnterAsync(Turn, default); // Free again: taken at once.
        gate.Exit();
    }

    [Fact]
    public async Task A_waiting_bulk_write_goes_after_at_most_eight_mission_writes_in_a_row()
    {
        var gate = SqliteWriteGate.For(":memory:");
        await gate.EnterAsync(Turn, default);
        var bulk = Queue(gate, bulk: true);
        await WaitForWaitingAsync(gate, 1);
        var mission = Queue(gate, bulk: false);
        await WaitForWaitingAsync(gate, 2);

        // Mission writes keep arriving, one always waiting: each takes the writer before the bulk write, eight times.
        for (var overtaken = 1; overtaken <= SqliteWriteGate.MaxOvertakes; overtaken++)
        {
            gate.Exit();
            await mission.WaitAsync(Turn);
            Assert.False(bulk.IsCompleted, $"the bulk write got the writer after {overtaken - 1} mission writes, before the mission write waiting with it");
            mission = Queue(gate, bulk: false);
            await WaitForWaitingAsync(gate, 2);
        }

        // The ninth waits: the bulk write's turn has come.
        gate.Exit();
        await bulk.WaitAsync(Turn);
        Assert.False(mission.IsCompleted, "a ninth mission write in a row went before the waiting bulk write");
        gate.Exit();
        await mission.WaitAsync(Turn);
        gate.Exit();
        Assert.Equal(0, gate.Waiting);
    }

    [Fact]
    public async Task A_mission_transaction_on_a_real_file_commits_before_queued_capture_transactions()
    {
        // A file of its own, with the interceptor Grace's contexts have: no other writer of a running Grace queues here.
        using var folder = new TempFolder();
        var path = folder.Combine("gate.db");
        var gate = SqliteWriteGate.For(path);
        var options = new DbContextOptionsBuilder<SqliteGraceDbContext>()
            .UseSqlite(new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString())
            .AddInterceptors(new SqliteWriteGateInterceptor(gate, Turn)).Options;
        IDbContextFactory<GraceDbContext> factory = new Factory(options);
        await using var holder = await factory.CreateDbContextAsync();
        await holder.Database.ExecuteSqlRawAsync("PRAGMA journal_mode = WAL");
        await holder.Database.ExecuteSqlRawAsync("CREATE TABLE gate_order(id INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT NOT NULL)");
        Assert.Equal(0, gate.Waiting);

        Task Write(string who, bool bulk) => Task.Run(async () =>
        {
            using var lane = bulk ? SqliteWritePriority.Bulk() : default;
            await using var db = await factory.CreateDbContextAsync();
            await using var transaction = await db.Database.BeginTransactionAsync();
            await db.Database.ExecuteSqlAsync($"INSERT INTO gate_order(who) VALUES ({who})");
            await transaction.CommitAsync();
        });

        var writes = new List<Task>();
        await using (var held = await holder.Database.BeginTransactionAsync())
        {
            await holder.Database.ExecuteSqlRawAsync("INSERT INTO gate_order(who) VALUES ('holder')");
            for (var i = 1; i <= 3; i++)
            {
                writes.Add(Write($"capture {i}", bulk: true));
                await WaitForWaitingAsync(gate, i);
            }

            writes.Add(Write("mission", bulk: false));
            await WaitForWaitingAsync(gate, 4);
            await held.CommitAsync();
        }

        await Task.WhenAll(writes).WaitAsync(Turn);
        var order = await holder.Database.SqlQueryRaw<string>("SELECT who AS Value FROM gate_order ORDER BY id").ToListAsync();
        Assert.Equal(["holder", "mission", "capture 1", "capture 2", "capture 3"], order);
    }

    private sealed class Factory(DbContextOptions<SqliteGraceDbContext> options) : IDbContextFactory<GraceDbContext>
    {
        public GraceDbContext CreateDbContext() => new SqliteGraceDbContext(options);
    }
}
