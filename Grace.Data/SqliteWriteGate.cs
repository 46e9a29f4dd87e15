using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Grace.Data;

/// <summary>
/// One first-come, first-served queue for SQLite's one writer, per database file in this process.
/// SQLite lets one connection write at a time; a second one that finds the writer taken is told
/// SQLITE_BUSY and its busy handler sleeps and polls (1, 2, 5 … 25, 50, 100 ms steps), blocking its
/// thread meanwhile. Under a steady stream of capture batches, each of which takes the writer again
/// the moment it released it, a polling writer keeps missing the gap: a mission's write waited
/// 100 ms and more behind batches that each took a few. Here a write transaction waits its turn
/// asynchronously (no thread held) and starts the moment the one before it ends. SQLite's busy
/// handler still covers writers outside this process and outside a transaction.
/// </summary>
#pragma warning disable CA1001 // One per database file for the life of the process: nothing to dispose it for.
internal sealed class SqliteWriteGate
#pragma warning restore CA1001
{
    private static readonly ConcurrentDictionary<string, SqliteWriteGate> Gates = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _writer = new(1, 1);

    private SqliteWriteGate()
    {
    }

    /// <summary>The gate of one database file (every context factory on that file in this process shares it).</summary>
    public static SqliteWriteGate For(string dataSource) =>
        Gates.GetOrAdd(dataSource == ":memory:" ? Guid.NewGuid().ToString("N") : Path.GetFullPath(dataSource), _ => new SqliteWriteGate());

    public async Task EnterAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!await _writer.WaitAsync(timeout, cancellationToken))
        {
            throw Busy(timeout);
        }
    }

    public void Enter(TimeSpan timeout)
    {
        if (!_writer.Wait(timeout))
        {
            throw Busy(timeout);
        }
    }

    public void Exit() => _writer.Release();

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
