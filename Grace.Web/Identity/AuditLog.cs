using Grace.Data;
using Grace.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace Grace.Web.Identity;

/// <summary>Writes audit entries for what the web layer does itself (sign-ins, user changes).</summary>
public sealed class AuditLog(IDbContextFactory<GraceDbContext> dbFactory, TimeProvider time)
{
    public async Task WriteAsync(string actor, string action, string subject, string? detail, string? remoteAddress)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        db.AuditEntries.Add(new AuditEntry
        {
            At = time.GetUtcNow(), Actor = actor.Length > 256 ? actor[..256] : actor, Action = action, Subject = subject,
            Detail = detail, RemoteAddress = remoteAddress,
        });
        await db.SaveChangesAsync();
    }
}
