using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Integration;

/// <summary>
/// Capture's commits on SQLite skip their own flush and the write-ahead log is flushed once per batch,
/// after SQLite's writer was given back and before the batch's signals are answered as stored
/// (Grace:Engine:CaptureFlush = OncePerBatch, the default; ADR 0039). Real SQLite file, real capture loop.
/// </summary>
public sealed class CaptureGroupFlushTests
{
    private const string Source = "group-flush";

    [Fact]
    public async Task A_batch_is_answered_only_after_the_log_is_flushed_and_the_flush_does_not_hold_the_writer()
    {
        using var folder = new TempFolder();
        var flushes = new RecordingFlush();
        var modes = new SynchronousModes();
        await using var host = new GraceHost(TestCatalog.Settings(folder), services =>
        {
            modes.Install(services);
            services.AddSingleton<SqliteLogFlush>(sp => flushes.Attach(sp));
        }).Start();
        var intake = host.Get<SignalIntake>();

        var signals = Enumerable.Range(0, 40).Select(i => new Signal(Source, $"Report {i} could not be rendered", Severity.Error, DateTimeOffset.UtcNow, ExceptionType: $"Render.Kind{i}Exception")).ToList();
        StoreReceipt receipt;
        // Holding the writer keeps capture from committing before the test knows the receipt.
        await using (await WriterHold.TakeAsync(host))
        {
            (_, receipt) = intake.TryWriteAndConfirm(signals);
            flushes.Watch(receipt);
        }

        await receipt.Stored.WaitAsync(TimeSpan.FromSeconds(30));

        // Capture's commits were written without their own flush...
        var captureModes = modes.Seen();
        Assert.NotEmpty(captureModes);
        Assert.All(captureModes, mode => Assert.Equal(1L, mode)); // 1 = NORMAL, 2 = FULL
        // ...and the log was flushed once they were in, before the 202, while another writer could write.
        var seen = flushes.Seen();
        var answering = seen.Where(f => f.AllCommitted).ToList();
        Assert.True(answering.Count > 0, $"no flush came after all {signals.Count} incidents were committed ({seen.Count} flushes)");
        Assert.All(answering, f => Assert.False(f.Answered, "the batch was answered as stored before its flush"));
        Assert.All(seen, f => Assert.True(f.WriterFree, "SQLite's writer was held while the log was flushed"));
    }

    [Fact]
    public async Task With_EveryBatch_each_commit_is_flushed_while_it_holds_the_writer_and_nothing_is_flushed_after()
    {
        using var folder = new TempFolder();
        var flushes = new RecordingFlush();
        var modes = new SynchronousModes();
        await using var host = new GraceHost(TestCatalog.Settings(folder).Append(new("Grace:Engine:CaptureFlush", "EveryBatch")), services =>
        {
            modes.Install(services);
            services.AddSingleton<SqliteLogFlush>(sp => flushes.Attach(sp));
        }).Start();

        var (_, receipt) = host.Get<SignalIntake>().TryWriteAndConfirm([new Signal(Source, "Report 1 could not be rendered", Severity.Error, DateTimeOffset.UtcNow)]);
        await receipt.Stored.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.All(modes.Seen(), mode => Assert.Equal(2L, mode));
        Assert.NotEmpty(modes.Seen());
        Assert.Empty(flushes.Seen());
    }

    [Fact]
    public async Task Flushing_the_log_works_on_a_live_log_and_does_nothing_once_the_log_is_gone()
    {
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "flush.db");
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
        await using (var connection = new SqliteConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);";
            await command.ExecuteNonQueryAsync();
            Assert.True(File.Exists(path + "-wal"));
            SqliteDurability.FlushLog(path);
        }

        // The last connection closed: SQLite checkpointed the log into the database file and deleted it.
        Assert.False(File.Exists(path + "-wal"));
        SqliteDurability.FlushLog(path);
    }

    /// <summary>Grace's flush, recording for each call whether the watched batch was committed and answered, and whether another writer could write meanwhile.</summary>
    private sealed class RecordingFlush
    {
        private readonly List<(bool AllCommitted, bool Answered, bool WriterFree)> _seen = [];
        private IServiceProvider? _services;
        private volatile StoreReceipt? _watched;

        public SqliteLogFlush Attach(IServiceProvider services)
        {
            _services = services;
            return new RecordedFlush(services.GetRequiredService<GraceDatabaseInfo>(), this);
        }

        public void Watch(StoreReceipt receipt) => _watched = receipt;

        public List<(bool AllCommitted, bool Answered, bool WriterFree)> Seen()
        {
            lock (_seen)
            {
                return [.. _seen];
            }
        }

        private void Record()
        {
            if (_watched is not { } receipt)
            {
                return;
            }

            var answered = receipt.Stored.IsCompleted;
            var factory = _services!.GetRequiredService<IDbContextFactory<GraceDbContext>>();
            using var db = factory.CreateDbContext();
            var committed = db.Incidents.AsNoTracking().Count(i => i.Source == Source);
            // A write of its own, through Grace's write gate: it can begin only if capture has given the writer back.
            var writerFree = Task.Run(async () =>
            {
                await using var writer = factory.CreateDbContext();
                await using var transaction = await writer.Database.BeginTransactionAsync();
                await writer.Database.ExecuteSqlRawAsync("CREATE TABLE IF NOT EXISTS group_flush_probe(x)");
                await transaction.CommitAsync();
            }).Wait(TimeSpan.FromSeconds(5));
            lock (_seen)
            {
                _seen.Add((committed == 40, answered, writerFree));
            }
        }

        private sealed class RecordedFlush(GraceDatabaseInfo database, RecordingFlush recorder) : SqliteLogFlush(database)
        {
            public override void Flush()
            {
                recorder.Record();
                base.Flush();
            }
        }
    }

    /// <summary>The <c>synchronous</c> setting of the connection of every save that stores this test's incidents.</summary>
    private sealed class SynchronousModes
    {
        private readonly List<long> _modes = [];

        public List<long> Seen()
        {
            lock (_modes)
            {
                return [.. _modes];
            }
        }

        public void Install(IServiceCollection services) => SavingHook.Install(services, OnSaving);

        private void OnSaving(object? sender, SavingChangesEventArgs e)
        {
            var db = (DbContext)sender!;
            // Capture adds the incidents; planning later marks them (Modified) on connections of its own.
            if (!db.ChangeTracker.Entries<Incident>().Any(i => i.State == EntityState.Added && i.Entity.Source == Source))
            {
                return;
            }

            using var command = db.Database.GetDbConnection().CreateCommand();
            command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction();
            command.CommandText = "PRAGMA synchronous;";
            var mode = (long)command.ExecuteScalar()!;
            lock (_modes)
            {
                _modes.Add(mode);
            }
        }
    }
}
