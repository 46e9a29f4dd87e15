using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Grace.Data;

/// <summary>
/// Copies SQLite's write-ahead log back into the database file on a connection of its own, off
/// every writer's path. By default SQLite does this inside whichever commit pushes the log past
/// 1,000 pages: that commit (a capture batch, a mission's plan or intent) then also copies the log
/// and flushes the database file, tens of milliseconds on a busy disk, while it holds the one
/// writer. Grace's connections move that threshold out of the way (<see cref="WriterCheckpointPages"/>,
/// set by <see cref="SqliteBusyTimeoutInterceptor"/>) and this service checkpoints in the background with
/// <c>PASSIVE</c>, which never waits for readers or writers and never holds the writer. Durability is
/// unchanged: a commit is durable in the log; a checkpoint only moves it.
/// </summary>
internal sealed class SqliteCheckpointer(GraceDatabaseInfo database, ILogger<SqliteCheckpointer> logger) : BackgroundService
{
    /// <summary>The log's size in pages at which a commit still checkpoints by itself: a safety net only, ten times SQLite's default.</summary>
    internal const int WriterCheckpointPages = 10_000;

    /// <summary>How often the log is copied back; at 100,000 signals/s the log grows by a few thousand pages a second.</summary>
    internal static readonly TimeSpan Every = TimeSpan.FromMilliseconds(500);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (database.SqliteFilePath is not { } file || file == ":memory:")
        {
            return;
        }

        var connectionString = new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ToString();
        try
        {
            // Its own thread: a checkpoint's writes and flush block it, and the thread pool should not lose a thread to that.
            await Task.Factory.StartNew(() => Loop(connectionString, stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void Loop(string connectionString, CancellationToken stoppingToken)
    {
        SqliteConnection? connection = null;
        try
        {
            while (!stoppingToken.WaitHandle.WaitOne(Every))
            {
                try
                {
                    if (connection is null)
                    {
                        connection = new SqliteConnection(connectionString);
                        connection.Open();
                    }

                    using var command = connection.CreateCommand();
                    command.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
                    command.ExecuteNonQuery();
                }
                catch (SqliteException ex)
                {
                    // Not fatal: the log keeps every commit; the next round copies what this one did not.
                    logger.LogDebug(ex, "A background checkpoint of {File} did not run", connectionString);
                    connection?.Dispose();
                    connection = null;
                }
            }
        }
        finally
        {
            connection?.Dispose();
        }
    }
}
