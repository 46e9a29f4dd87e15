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
}
