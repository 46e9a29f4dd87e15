using Microsoft.EntityFrameworkCore;

namespace Grace.Data;

/// <summary>
/// How durable a SQLite commit is. By default every commit is flushed to disk (WAL with
/// <c>synchronous = FULL</c>: one fsync per commit, about 4 ms on the build machine). Capture's
/// group commits may instead be written without their own flush (<c>synchronous = NORMAL</c>): the
/// commit is in the write-ahead log when it returns, so it survives Grace being killed (kill -9),
/// and it reaches the disk with the next flushed commit (any mission's, any other writer's) or
/// checkpoint; only a power loss or an operating-system crash before then can lose it. A batch that
/// does not wait for the disk holds SQLite's one writer for less, so missions wait less behind it.
/// <para>
/// Capture's default (ADR 0039) keeps "202 means on disk" and still takes the flush out of the writer's
/// hold: its commits skip their own flush, and once the writer is given back <see cref="FlushLog"/>
/// flushes the write-ahead log, all of a batch's commits at once, before the batch is answered.
/// </para>
/// </summary>
public static class SqliteDurability
{
    /// <summary>On SQLite, lets this context's commits skip their own flush (see the type's remarks); elsewhere does nothing.</summary>
    public static async Task FlushWithNextCommitAsync(DbContext db, CancellationToken cancellationToken)
    {
        if (db is not SqliteGraceDbContext)
        {
            return;
        }

        await db.Database.OpenConnectionAsync(cancellationToken);
        // Straight on the connection, not through EF: no turn at the write gate is needed for a pragma.
        await using var command = db.Database.GetDbConnection().CreateCommand();
        command.CommandText = "PRAGMA synchronous = NORMAL;";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Undoes <see cref="FlushWithNextCommitAsync"/> on a connection that stays open: its next commits are flushed
    /// again. Closing the connection is not enough with pooled contexts (ADR 0040): a context can be leased with a
    /// connection already open, which it then does not close. A pragma, no I/O: run in place.
    /// </summary>
    public static void FlushEveryCommit(DbContext db)
    {
        if (db is not SqliteGraceDbContext || db.Database.GetDbConnection() is not { State: System.Data.ConnectionState.Open } connection)
        {
            return;
        }

        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA synchronous = FULL;";
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Flushes a SQLite database's write-ahead log to disk, outside any transaction and without SQLite's writer:
    /// every commit already in the log (those made without their own flush included) is on disk when this returns.
    /// The log is append-only until a checkpoint restarts it, and a checkpoint flushes the log and the database
    /// file itself, so whatever was in the log before this call is either flushed here or was already on disk.
    /// </summary>
    /// <param name="databasePath">The database file; its log is the file beside it with "-wal" appended, as SQLite names it.</param>
    public static void FlushLog(string databasePath)
    {
        if (databasePath == ":memory:")
        {
            return;
        }

        try
        {
            // Opened for each flush, not kept: when the last connection closes, SQLite deletes the log and the
            // next one creates a new file, so a handle kept open would flush a file nobody writes any more.
            // Writable because flushing needs a handle that may write; nothing is written through it.
            using var log = File.OpenHandle(databasePath + "-wal", FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            RandomAccess.FlushToDisk(log);
        }
        catch (FileNotFoundException)
        {
            // No log: the last connection checkpointed it into the database file, flushed, and deleted it.
        }
    }
}

/// <summary>
/// Flushes the write-ahead log of Grace's own SQLite database (<see cref="SqliteDurability.FlushLog"/>); on
/// PostgreSQL and SQL Server a commit is as durable as the server makes it, and this does nothing. Capture calls
/// it once per batch, after its commits and before answering them (ADR 0039).
/// </summary>
public class SqliteLogFlush(GraceDatabaseInfo database)
{
    /// <summary>Flushes the log to disk, blocking the calling thread for one fsync.</summary>
    /// <remarks>Virtual so that a test can see when capture flushes, relative to its commits and its answers.</remarks>
    public virtual void Flush()
    {
        if (database is { Provider: DatabaseProvider.Sqlite, SqliteFilePath: { } path })
        {
            SqliteDurability.FlushLog(path);
        }
    }
}
