using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Microsoft.EntityFrameworkCore;

namespace Grace.Engine.Audit;

/// <summary>
/// The one place audit entries are made: who did what, to what, why, when and from where. Every
/// service that records a person's (or the engine's) act goes through it, so each entry has the same
/// shape, the clock is the injected one, and text is cut to the columns' sizes (a refusal must be
/// recorded, never fail because a caller typed too much).
/// </summary>
public sealed class AuditTrail(IDbContextFactory<GraceDbContext> dbFactory, TimeProvider time)
{
    /// <summary>
    /// Adds an entry to <paramref name="db"/>, to be committed with the change it records (the
    /// caller saves): an act and its audit entry are stored together or not at all.
    /// </summary>
    public AuditEntry Add(GraceDbContext db, Actor actor, string action, string subject, string? detail = null, DateTimeOffset? at = null) =>
        Add(db, actor.Name, action, subject, detail, actor.RemoteAddress, at);

    /// <inheritdoc cref="Add(GraceDbContext, Actor, string, string, string?, DateTimeOffset?)"/>
    public AuditEntry Add(GraceDbContext db, string actor, string action, string subject, string? detail, string? remoteAddress, DateTimeOffset? at = null)
    {
        var entry = new AuditEntry
        {
            At = at ?? time.GetUtcNow(),
            Actor = ColumnLimits.Shorten(actor, ColumnLimits.UserName),
            Action = ColumnLimits.Shorten(action, ColumnLimits.AuditAction),
            Subject = ColumnLimits.Shorten(subject, ColumnLimits.AuditSubject),
            Detail = detail is null ? null : ColumnLimits.Shorten(detail, ColumnLimits.Text),
            RemoteAddress = remoteAddress is null ? null : ColumnLimits.Shorten(remoteAddress, ColumnLimits.RemoteAddress),
        };
        db.AuditEntries.Add(entry);
        return entry;
    }

    /// <summary>Records an act that changes nothing else in Grace's database (a sign-in, a refusal) in its own unit of work.</summary>
    public async Task WriteAsync(string actor, string action, string subject, string? detail, string? remoteAddress, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        Add(db, actor, action, subject, detail, remoteAddress);
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <inheritdoc cref="WriteAsync(string, string, string, string?, string?, CancellationToken)"/>
    public Task WriteAsync(Actor actor, string action, string subject, string? detail, CancellationToken cancellationToken = default) =>
        WriteAsync(actor.Name, action, subject, detail, actor.RemoteAddress, cancellationToken);
}
