using Grace.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Grace.Tests.Infrastructure;

/// <summary>
/// Holds SQLite's one writer until disposed: a transaction begun through Grace's own context factory, so
/// it takes its turn at the write gate like any of Grace's writes. What capture takes meanwhile waits
/// behind it, as signals pile up behind a slow commit under load.
/// </summary>
public sealed class WriterHold : IAsyncDisposable
{
    private readonly GraceDbContext _db;
    private readonly IDbContextTransaction _transaction;

    private WriterHold(GraceDbContext db, IDbContextTransaction transaction)
    {
        _db = db;
        _transaction = transaction;
    }

    public static async Task<WriterHold> TakeAsync(GraceHost host)
    {
        var db = await host.Get<IDbContextFactory<GraceDbContext>>().CreateDbContextAsync();
        return new WriterHold(db, await db.Database.BeginTransactionAsync());
    }

    public async ValueTask DisposeAsync()
    {
        await _transaction.CommitAsync();
        await _transaction.DisposeAsync();
        await _db.DisposeAsync();
    }
}
