using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Grace.Data;

/// <summary>Provider-neutral reading of database errors.</summary>
public static class DatabaseErrors
{
    /// <summary>
    /// True when the database could not be reached or did not answer in time (an outage, a restart,
    /// a failover), as opposed to a fault in the request: the caller may try again later.
    /// </summary>
    public static bool IsUnavailable(Exception exception)
    {
        for (Exception? ex = exception; ex is not null; ex = ex.InnerException)
        {
            switch (ex)
            {
                case NpgsqlException npgsql when npgsql is not PostgresException || npgsql.IsTransient:
                case Microsoft.Data.SqlClient.SqlException { Number: -2 or 53 or 40613 or 40501 or 49918 or 4060 }:
                case SqliteException { SqliteErrorCode: 5 or 6 or 14 }:
                case TimeoutException:
                case System.Net.Sockets.SocketException:
                    return true;
                case InvalidOperationException when ex.GetType().Name == "RetryLimitExceededException":
                    return true;
            }
        }

        return false;
    }

    /// <summary>True when a save failed on a unique index (two people, or two instances, wrote the same row at once).</summary>
    public static bool IsUniqueViolation(DbUpdateException exception) => exception.InnerException switch
    {
        SqliteException sqlite => sqlite.SqliteErrorCode == 19 && sqlite.SqliteExtendedErrorCode is 2067 or 1555,
        PostgresException postgres => postgres.SqlState == PostgresErrorCodes.UniqueViolation,
        Microsoft.Data.SqlClient.SqlException sql => sql.Number is 2601 or 2627,
        _ => false,
    };
}
