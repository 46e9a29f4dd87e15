using System.Data.Common;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Grace.Data.Entities;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Grace.Tests.Integration;

/// <summary>
/// On SQLite a signal's mission is planned with a commit that does not wait for the disk (the
/// incident keeps its durable mark until the plan is there, ADR 0029), while the intent, which
/// says an action is about to run, is flushed before the action: the synchronous setting each of
/// those two commits ran under is read on its own connection, inside its own transaction.
/// </summary>
public sealed class PlanDurabilityTests : IDisposable, IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>
{
    // PRAGMA synchronous: 1 = NORMAL (no flush of its own), 2 = FULL (flushed at commit).
    private const long Normal = 1;
    private const long Full = 2;
    private readonly TempFolder _folder = new();
    private readonly List<IDisposable> _subscriptions = [];
    private readonly List<(string What, long Synchronous)> _seen = [];

    public PlanDurabilityTests() => _subscriptions.Add(DiagnosticListener.AllListeners.Subscribe(this));

    [Fact]
    public async Task A_signals_plan_commits_without_its_own_flush_and_its_intent_is_flushed_before_the_action()
    {
        using var holder = TestCatalog.GrowWal(_folder.Combine("app.db"));
        await using var host = new GraceHost(TestCatalog.Settings(_folder)).Start();
        using (var client = host.IngestClient())
        {
            var response = await client.PostAsJsonAsync("/api/signals", new { source = "orders-api", message = TestCatalog.WalMessage, severity = "Error" });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "test-checkpoint" && m.CompletedAt != null, "finished");
        Assert.Equal(MissionState.Succeeded, mission.State);
        List<(string What, long Synchronous)> seen;
        lock (_seen)
        {
            seen = [.. _seen];
        }

        Assert.Contains(("plan", Normal), seen);
        Assert.DoesNotContain(("plan", Full), seen);
        Assert.Contains(("intent", Full), seen);
        Assert.DoesNotContain(("intent", Normal), seen);
        // A relaxed connection goes back to the pool; whoever opens that same connection next gets
        // full durability. The others the pool hands out meanwhile stay open, so it must come to it.
        IntPtr relaxedHandle;
        await using (var relaxed = host.CreateDb())
        {
            await Grace.Data.SqliteDurability.FlushWithNextCommitAsync(relaxed, default);
            Assert.Equal(Normal, Synchronous(relaxed.Database.GetDbConnection(), null));
            relaxedHandle = Handle(relaxed.Database.GetDbConnection());
        }

        await LeaseUntilAsync(host, 100, async db =>
        {
            await db.Database.OpenConnectionAsync();
            return Handle(db.Database.GetDbConnection()) == relaxedHandle;
        }, db =>
        {
            Assert.Equal(Full, Synchronous(db.Database.GetDbConnection(), null));
            return Task.CompletedTask;
        }, "the pool never handed out the relaxed connection again");
    }

    [Fact]
    public async Task A_pooled_context_given_back_with_its_connection_relaxed_and_open_flushes_every_commit_on_its_next_lease()
    {
        await using var host = new GraceHost(TestCatalog.Settings(_folder)).Start();
        var relaxed = host.CreateDb();
        await Grace.Data.SqliteDurability.FlushWithNextCommitAsync(relaxed, default);
        Assert.Equal(Normal, Synchronous(relaxed.Database.GetDbConnection(), null));
        await relaxed.DisposeAsync();

        // The pool hands contexts out in the order they came back: lease until it is that one again.
        await LeaseUntilAsync(host, 2000, db => Task.FromResult(ReferenceEquals(db, relaxed)), async db =>
        {
            await db.Database.OpenConnectionAsync();
            Assert.Equal(Full, Synchronous(db.Database.GetDbConnection(), null));
        }, "the pool never handed out the relaxed context again");
    }

    /// <summary>Leases contexts, holding each, until one is <paramref name="wanted"/>; checks it, then gives all back.</summary>
    private static async Task LeaseUntilAsync(GraceHost host, int most, Func<Data.GraceDbContext, Task<bool>> wanted, Func<Data.GraceDbContext, Task> check, string never)
    {
        var held = new List<Data.GraceDbContext>();
        try
        {
            for (var i = 0; i < most; i++)
            {
                var db = host.CreateDb();
                held.Add(db);
                if (await wanted(db))
                {
                    await check(db);
                    return;
                }
            }

            Assert.Fail(never);
        }
        finally
        {
            foreach (var db in held)
            {
                await db.DisposeAsync();
            }
        }
    }

    private static IntPtr Handle(DbConnection connection) => ((Microsoft.Data.Sqlite.SqliteConnection)connection).Handle!.DangerousGetHandle();

    void IObserver<DiagnosticListener>.OnNext(DiagnosticListener listener)
    {
        if (listener.Name == DbLoggerCategory.Name)
        {
            _subscriptions.Add(listener.Subscribe(this));
        }
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Key != RelationalEventId.CommandExecuting.Name || value.Value is not CommandEventData { Command: var command }
            || command.Connection?.DataSource is not { } file || !file.StartsWith(_folder.Path, StringComparison.Ordinal))
        {
            return;
        }

        // The mission's row is inserted by its plan; its target's fence row is written by its intent.
        var what = command.CommandText.Contains("INSERT INTO \"Missions\"", StringComparison.Ordinal) ? "plan"
            : command.CommandText.Contains("\"TargetFences\"", StringComparison.Ordinal) && !command.CommandText.TrimStart().StartsWith("SELECT", StringComparison.OrdinalIgnoreCase) ? "intent"
            : null;
        if (what is not null)
        {
            var synchronous = Synchronous(command.Connection, command.Transaction);
            lock (_seen)
            {
                _seen.Add((what, synchronous));
            }
        }
    }

    private static long Synchronous(DbConnection connection, DbTransaction? transaction)
    {
        using var pragma = connection.CreateCommand();
        pragma.Transaction = transaction;
        pragma.CommandText = "PRAGMA synchronous;";
        return Convert.ToInt64(pragma.ExecuteScalar());
    }

    void IObserver<DiagnosticListener>.OnCompleted()
    {
    }

    void IObserver<DiagnosticListener>.OnError(Exception error)
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnCompleted()
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnError(Exception error)
    {
    }

    public void Dispose()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }

        _folder.Dispose();
    }
}
