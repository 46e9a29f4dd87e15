using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Grace.Data;

/// <summary>
/// Which lane of <see cref="SqliteWriteGate"/> the writes of the current flow queue in. Capture's group
/// commits (counting repeats into incidents) mark themselves <see cref="Bulk"/>; everything else (a
/// mission's plan, gate, intent and outcome, a person's action) is a mission write and goes first
/// (ADR 0036): a mission is what someone waits for; a capture commit only delays the 202 of signals
/// that are already safe in the intake.
/// </summary>
public static class SqliteWritePriority
{
    private static readonly AsyncLocal<bool> InBulk = new();

    /// <summary>Whether writes of the current flow queue in the bulk lane.</summary>
    public static bool IsBulk => InBulk.Value;

    /// <summary>Marks the writes of the current flow (and the flows it awaits) as bulk until disposed.</summary>
    public static Scope Bulk()
    {
        var before = InBulk.Value;
        InBulk.Value = true;
        return new Scope(before);
    }

    /// <summary>Restores the lane that was in force before <see cref="Bulk"/>.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly bool _before;

        internal Scope(bool before) => _before = before;

        public void Dispose() => InBulk.Value = _before;
    }
}

/// <summary>
/// How long writes waited for SQLite's one writer and how long they held it, by lane (mission or bulk):
/// when missions are slow under a storm, these say whether the writer is the queue they wait in.
/// </summary>
public static class SqliteWriterMetrics
{
    /// <summary>The meter's name, for an OpenTelemetry exporter or a <see cref="System.Diagnostics.Metrics.MeterListener"/>.</summary>
    public const string MeterName = "Grace.Data.Sqlite";

    /// <summary>The tag that names the lane: "mission" or "bulk".</summary>
    public const string LaneTag = "lane";

    internal static readonly System.Diagnostics.Metrics.Meter Meter = new(MeterName);

    internal static readonly System.Diagnostics.Metrics.Histogram<double> Waited = Meter.CreateHistogram<double>(
        "grace.sqlite.writer.wait", "ms", "Time a write transaction waited for its turn at SQLite's one writer, by lane.");

    internal static readonly System.Diagnostics.Metrics.Histogram<double> Held = Meter.CreateHistogram<double>(
        "grace.sqlite.writer.hold", "ms", "Time a write transaction held SQLite's one writer, from its turn to its commit or rollback, by lane.");

    internal static KeyValuePair<string, object?> Lane(bool bulk) => new(LaneTag, bulk ? "bulk" : "mission");
}

/// <summary>
/// One queue for SQLite's one writer, per database file in this process, in two lanes.
/// SQLite lets one connection write at a time; a second one that finds the writer taken is told
/// SQLITE_BUSY and its busy handler sleeps and polls (1, 2, 5 … 25, 50, 100 ms steps), blocking its
/// thread meanwhile. Under a steady stream of capture batches, each of which takes the writer again
/// the moment it released it, a polling writer keeps missing the gap: a mission's write waited
/// 100 ms and more behind batches that each took a few. Here a write transaction waits its turn
/// asynchronously (no thread held) and starts the moment the one before it ends. SQLite's busy
/// handler still covers writers outside this process and outside a transaction.
/// <para>
/// Each lane is first come, first served. A waiting mission write goes before waiting bulk writes
/// (<see cref="SqliteWritePriority.Bulk"/>, capture's group commits), so a tier-0 mission waits behind
/// at most the one transaction that holds the writer, not behind a queue of capture batches (ADR 0036).
/// Bulk is not starved: after <see cref="MaxOvertakes"/> mission writes in a row went before a waiting
/// bulk write, the bulk write goes next.
/// </para>
/// </summary>
internal sealed class SqliteWriteGate
{
    /// <summary>Mission writes that may go, one after another, before a waiting bulk write (ADR 0036).</summary>
    internal const int MaxOvertakes = 8;

    private static readonly ConcurrentDictionary<string, SqliteWriteGate> Gates = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly LinkedList<TaskCompletionSource> _missions = new();
    private readonly LinkedList<TaskCompletionSource> _bulk = new();
    private bool _held;
    private int _overtakes;
    // Who holds the writer and since when (Stopwatch ticks), for the hold time measured when it is given back.
    private long _heldSince;
    private bool _heldByBulk;

    private SqliteWriteGate()
    {
    }

    /// <summary>The gate of one database file (every context factory on that file in this process shares it).</summary>
    public static SqliteWriteGate For(string dataSource) =>
        Gates.GetOrAdd(dataSource == ":memory:" ? Guid.NewGuid().ToString("N") : Path.GetFullPath(dataSource), _ => new SqliteWriteGate());

    /// <summary>Writers waiting for their turn, both lanes (what tests wait on instead of sleeping).</summary>
    internal int Waiting
    {
        get
        {
            lock (_lock)
            {
                return _missions.Count + _bulk.Count;
            }
        }
    }

    public async Task EnterAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var bulk = SqliteWritePriority.IsBulk;
        var asked = Stopwatch.GetTimestamp();
        if (Queue(bulk) is not { } waiter)
        {
            SqliteWriterMetrics.Waited.Record(0, SqliteWriterMetrics.Lane(bulk));
            return;
        }

        try
        {
            await waiter.Value.Task.WaitAsync(timeout, cancellationToken);
            SqliteWriterMetrics.Waited.Record(Stopwatch.GetElapsedTime(asked).TotalMilliseconds, SqliteWriterMetrics.Lane(bulk));
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            if (GaveUp(waiter))
            {
                throw ex is TimeoutException ? Busy(timeout) : ex;
            }

            // The turn came in the same instant: it is ours, and the caller gives it back as usual.
        }
    }

    public void Enter(TimeSpan timeout)
    {
        var bulk = SqliteWritePriority.IsBulk;
        var asked = Stopwatch.GetTimestamp();
        if (Queue(bulk) is not { } waiter)
        {
            SqliteWriterMetrics.Waited.Record(0, SqliteWriterMetrics.Lane(bulk));
            return;
        }

        if (!waiter.Value.Task.Wait(timeout) && GaveUp(waiter))
        {
            throw Busy(timeout);
        }

        SqliteWriterMetrics.Waited.Record(Stopwatch.GetElapsedTime(asked).TotalMilliseconds, SqliteWriterMetrics.Lane(bulk));
    }

    public void Exit()
    {
        TaskCompletionSource? next;
        lock (_lock)
        {
            var now = Stopwatch.GetTimestamp();
            SqliteWriterMetrics.Held.Record(Stopwatch.GetElapsedTime(_heldSince, now).TotalMilliseconds, SqliteWriterMetrics.Lane(_heldByBulk));
            _heldSince = now;
            var bulkWaits = _bulk.Count > 0;
            LinkedList<TaskCompletionSource> from;
            if (_missions.Count > 0 && (!bulkWaits || _overtakes < MaxOvertakes))
            {
                from = _missions;
                _overtakes = bulkWaits ? _overtakes + 1 : 0;
                _heldByBulk = false;
            }
            else if (bulkWaits)
            {
                from = _bulk;
                _overtakes = 0;
                _heldByBulk = true;
            }
            else
            {
                _held = false;
                return;
            }

            next = from.First!.Value;
            from.RemoveFirst();
        }

        // The writer passes straight to the next in line (it stays held), so nobody arriving meanwhile slips in.
        next.SetResult();
    }

    /// <summary>Takes the writer at once when it is free and nobody waits; otherwise queues in the lane and returns the place.</summary>
    private LinkedListNode<TaskCompletionSource>? Queue(bool bulk)
    {
        lock (_lock)
        {
            if (!_held)
            {
                _held = true;
                _heldSince = Stopwatch.GetTimestamp();
                _heldByBulk = bulk;
                return null;
            }

            // Continuations run elsewhere: Exit must not run the next writer's transaction on its own stack.
            return (bulk ? _bulk : _missions).AddLast(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
    }

    /// <summary>Leaves the queue after a timeout or cancellation; false when the turn had already been handed over.</summary>
    private bool GaveUp(LinkedListNode<TaskCompletionSource> waiter)
    {
        lock (_lock)
        {
            if (waiter.List is { } list)
            {
                list.Remove(waiter);
                return true;
            }

            return false;
        }
    }

    // The same error SQLite gives when its busy timeout runs out, so callers treat it as they always have (transient).
    private static SqliteException Busy(TimeSpan timeout) =>
        new($"SQLite Error 5: 'database is locked' (no turn at the writer within {timeout.TotalMilliseconds:0} ms, Grace:Database:SqliteBusyTimeoutMilliseconds).", 5);
}

/// <summary>
/// Takes a turn at <see cref="SqliteWriteGate"/> for every transaction EF Core begins on SQLite
/// (SaveChanges' own and explicit ones; Microsoft.Data.Sqlite begins them IMMEDIATE, so the
/// transaction holds the writer from its first statement) and gives it back when the transaction
/// commits, rolls back, or its connection closes (a transaction disposed without either). A write
/// statement outside a transaction (ExecuteUpdate, ExecuteDelete) takes a turn for itself.
/// </summary>
internal sealed class SqliteWriteGateInterceptor(SqliteWriteGate gate, TimeSpan timeout) : DbTransactionInterceptor, IDbConnectionInterceptor, IDbCommandInterceptor
{
    // The connections whose transaction holds the turn; a turn is given back exactly once. A finished
    // SqliteTransaction forgets its connection, so each transaction's connection is noted when it starts.
    private readonly ConcurrentDictionary<DbConnection, byte> _holding = new();
    private readonly ConcurrentDictionary<DbTransaction, DbConnection> _connections = new();

    public override async ValueTask<InterceptionResult<DbTransaction>> TransactionStartingAsync(
        DbConnection connection, TransactionStartingEventData eventData, InterceptionResult<DbTransaction> result, CancellationToken cancellationToken = default)
    {
        if (!_holding.ContainsKey(connection))
        {
            await gate.EnterAsync(timeout, cancellationToken);
            _holding[connection] = 0;
        }

        return result;
    }

    public override InterceptionResult<DbTransaction> TransactionStarting(DbConnection connection, TransactionStartingEventData eventData, InterceptionResult<DbTransaction> result)
    {
        if (!_holding.ContainsKey(connection))
        {
            gate.Enter(timeout);
            _holding[connection] = 0;
        }

        return result;
    }

    public override DbTransaction TransactionStarted(DbConnection connection, TransactionEndEventData eventData, DbTransaction result)
    {
        _connections[result] = connection;
        return result;
    }

    public override ValueTask<DbTransaction> TransactionStartedAsync(DbConnection connection, TransactionEndEventData eventData, DbTransaction result, CancellationToken cancellationToken = default)
    {
        _connections[result] = connection;
        return ValueTask.FromResult(result);
    }

    public override void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Ended(transaction);

    public override Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Ended(transaction);
        return Task.CompletedTask;
    }

    public override void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => Ended(transaction);

    public override Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Ended(transaction);
        return Task.CompletedTask;
    }

    public override void TransactionFailed(DbTransaction transaction, TransactionErrorEventData eventData) => ReleaseIfEnded(transaction, eventData);

    public override Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        ReleaseIfEnded(transaction, eventData);
        return Task.CompletedTask;
    }

    // A transaction that failed to begin, commit or roll back is over (SQLite ends it); one whose
    // savepoint failed is not, and keeps its turn.
    private void ReleaseIfEnded(DbTransaction transaction, TransactionErrorEventData eventData)
    {
        if (eventData.Action is "Commit" or "Rollback")
        {
            Ended(transaction);
        }
    }

    private void Ended(DbTransaction transaction)
    {
        if (_connections.TryRemove(transaction, out var connection))
        {
            Release(connection);
        }
    }

    public InterceptionResult ConnectionClosing(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
    {
        ConnectionEnded(connection);
        return result;
    }

    public ValueTask<InterceptionResult> ConnectionClosingAsync(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
    {
        ConnectionEnded(connection);
        return ValueTask.FromResult(result);
    }

    public InterceptionResult ConnectionDisposing(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
    {
        ConnectionEnded(connection);
        return result;
    }

    public ValueTask<InterceptionResult> ConnectionDisposingAsync(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
    {
        ConnectionEnded(connection);
        return ValueTask.FromResult(result);
    }

    // A statement executed as a non-query outside a transaction is a write (EF reads through a reader).
    private readonly ConcurrentDictionary<DbCommand, byte> _bare = new();

    public async ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        if (command.Transaction is null && command.Connection is { } connection && !_holding.ContainsKey(connection))
        {
            await gate.EnterAsync(timeout, cancellationToken);
            _bare[command] = 0;
        }

        return result;
    }

    public InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        if (command.Transaction is null && command.Connection is { } connection && !_holding.ContainsKey(connection))
        {
            gate.Enter(timeout);
            _bare[command] = 0;
        }

        return result;
    }

    public ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Done(command);
        return ValueTask.FromResult(result);
    }

    public int NonQueryExecuted(DbCommand command, CommandExecutedEventData eventData, int result)
    {
        Done(command);
        return result;
    }

    public void CommandFailed(DbCommand command, CommandErrorEventData eventData) => Done(command);

    public Task CommandFailedAsync(DbCommand command, CommandErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Done(command);
        return Task.CompletedTask;
    }

    public void CommandCanceled(DbCommand command, CommandEndEventData eventData) => Done(command);

    public Task CommandCanceledAsync(DbCommand command, CommandEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Done(command);
        return Task.CompletedTask;
    }

    private void Done(DbCommand command)
    {
        if (_bare.TryRemove(command, out _))
        {
            gate.Exit();
        }
    }

    // A transaction disposed without a commit or rollback (an exception on the way) ends with its connection.
    private void ConnectionEnded(DbConnection connection)
    {
        Forget(connection);
        Release(connection);
    }

    private void Forget(DbConnection connection)
    {
        foreach (var (transaction, of) in _connections)
        {
            if (ReferenceEquals(of, connection))
            {
                _connections.TryRemove(transaction, out _);
            }
        }
    }

    private void Release(DbConnection connection)
    {
        if (_holding.TryRemove(connection, out _))
        {
            gate.Exit();
        }
    }
}
