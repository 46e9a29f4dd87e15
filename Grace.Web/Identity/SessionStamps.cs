using System.Security.Claims;
using Grace.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Grace.Web.Identity;

/// <summary>
/// Ends a copied or stolen cookie for real. Every request with a sign-in cookie has its security stamp
/// compared with the person's current one (read from the database, remembered for
/// <c>Grace:Identity:SessionCheckSeconds</c>). Signing out, a new password, a new role or disabling
/// renews the stamp, so every cookie issued before stops working: on this instance at once (its copy
/// is dropped), on the other instances of a cluster within SessionCheckSeconds. A cookie is
/// self-contained, so signing out ends all of that person's sessions, not only the one that signed out.
/// </summary>
public sealed class SessionStamps(IDbContextFactory<GraceDbContext> dbFactory, IMemoryCache cache, IOptionsMonitor<GraceIdentityOptions> options)
{
    private sealed record Current(string? Stamp, bool Disabled);

    private static string Key(string userId) => $"grace.session-stamp:{userId}";

    /// <summary>True when <paramref name="principal"/>'s stamp is its person's current one and the person is not disabled.</summary>
    public async Task<bool> IsCurrentAsync(ClaimsPrincipal principal, string stampClaimType, CancellationToken cancellationToken = default)
    {
        var userId = principal.FindFirstValue(ClaimTypes.NameIdentifier);
        if (userId is null)
        {
            return false;
        }

        var seconds = options.CurrentValue.SessionCheckSeconds;
        if (seconds <= 0 || !cache.TryGetValue(Key(userId), out Current? current) || current is null)
        {
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            var row = await db.Users.AsNoTracking().Where(u => u.Id == userId).Select(u => new { u.SecurityStamp, u.LockoutEnd }).SingleOrDefaultAsync(cancellationToken);
            current = new Current(row?.SecurityStamp, row is null || UserAdministration.IsDisabled(row.LockoutEnd));
            if (seconds > 0)
            {
                cache.Set(Key(userId), current, TimeSpan.FromSeconds(seconds));
            }
        }

        return !current.Disabled && current.Stamp is not null && current.Stamp == principal.FindFirstValue(stampClaimType);
    }

    /// <summary>Forgets what this instance knows of a person's session, after their stamp was renewed.</summary>
    public void Forget(string userId) => cache.Remove(Key(userId));

    /// <summary>Runs the check before Identity's own periodic validator on every cookie-authenticated request.</summary>
    internal static void Install(CookieAuthenticationOptions cookie)
    {
        var inner = cookie.Events.OnValidatePrincipal;
        cookie.Events.OnValidatePrincipal = async context =>
        {
            var services = context.HttpContext.RequestServices;
            var stampClaim = services.GetRequiredService<IOptions<IdentityOptions>>().Value.ClaimsIdentity.SecurityStampClaimType;
            if (context.Principal is null || !await services.GetRequiredService<SessionStamps>().IsCurrentAsync(context.Principal, stampClaim, context.HttpContext.RequestAborted))
            {
                context.RejectPrincipal();
                await context.HttpContext.SignOutAsync(IdentityConstants.ApplicationScheme);
                return;
            }

            await inner(context);
        };
    }
}
