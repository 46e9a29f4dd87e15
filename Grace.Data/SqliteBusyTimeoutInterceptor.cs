using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Grace.Data;

/// <summary>
/// Sets SQLite's own busy handler on every connection. Without it, Microsoft.Data.Sqlite retries a
/// busy database by sleeping in coarse steps, so a short wait for the one writer costs a long
/// pause; SQLite's handler waits in steps of a few milliseconds.
/// </summary>
internal sealed class SqliteBusyTimeoutInterceptor(int milliseconds) : DbConnectionInterceptor
{
    // A pooled connection keeps its pragmas: one that capture relaxed (SqliteDurability) is made
    // fully durable again for whoever opens it next.
    private string Pragmas => $"PRAGMA busy_timeout = {milliseconds}; PRAGMA synchronous = FULL;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData) => Apply(connection);

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private void Apply(DbConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }
}
