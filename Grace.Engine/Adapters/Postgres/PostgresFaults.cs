using System.Collections.Concurrent;
using Grace.Engine.Faults;
using Grace.Engine.Targets;
using Npgsql;

namespace Grace.Engine.Adapters.Postgres;

/// <summary>Holds an exclusive lock on <c>grace_fault_lock</c> in an idle transaction, with a second session waiting on it.</summary>
public sealed class LockHoldFault : IFaultDemo, IAsyncDisposable
{
    public static readonly FaultKind Kind = new("PostgresLockHold");

    private readonly ConcurrentBag<NpgsqlConnection> _held = [];

    public FaultInfo Info { get; } = new(Kind, "Hold a lock in PostgreSQL",
        "Takes an exclusive lock on grace_fault_lock in an idle transaction, with a second session waiting on it.", PostgresKind.Id, HasSize: false);

    public string? Unavailable(ResolvedTarget target) => null;

    public async Task<string> InjectAsync(ResolvedTarget target, int megabytes, CancellationToken cancellationToken)
    {
        var cs = new NpgsqlConnectionStringBuilder(target.Settings<PostgresTarget>().ConnectionString)
        {
            Pooling = false,
            ApplicationName = "grace-fault-lock-holder",
        }.ConnectionString;
        var holder = new NpgsqlConnection(cs);
        await holder.OpenAsync(cancellationToken);
        // The table is committed on its own first: inside the locking transaction the waiter could not see it.
        await using (var create = new NpgsqlCommand("CREATE TABLE IF NOT EXISTS grace_fault_lock(id int)", holder))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var begin = new NpgsqlCommand("BEGIN", holder))
        {
            await begin.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var lockTable = new NpgsqlCommand("LOCK TABLE grace_fault_lock IN ACCESS EXCLUSIVE MODE", holder))
        {
            await lockTable.ExecuteNonQueryAsync(cancellationToken);
        }

        // A second session waits on the lock, as an application's query would.
        var waiter = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(cs) { ApplicationName = "grace-fault-waiter" }.ConnectionString);
        await waiter.OpenAsync(cancellationToken);
        _ = new NpgsqlCommand("SELECT count(*) FROM grace_fault_lock", waiter) { CommandTimeout = 600 }.ExecuteScalarAsync(CancellationToken.None)
            .ContinueWith(_ => waiter.Dispose(), TaskScheduler.Default);
        _held.Add(holder);
        return $"Holding an exclusive lock on grace_fault_lock of '{target.Key}' (pid {holder.ProcessID}); a second session waits on it.";
    }

    /// <summary>Releases the lock: the held connections close.</summary>
    public async ValueTask DisposeAsync()
    {
        while (_held.TryTake(out var connection))
        {
            await connection.DisposeAsync();
        }
    }
}
