using System.Diagnostics.Metrics;
using System.Security.Claims;
using Grace.Data.Entities;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Grace.Web.Identity;

/// <summary>
/// Checks an open console circuit's person against the database every
/// <c>Grace:Identity:RevalidateSeconds</c>: a person disabled, given another role or with a new
/// password (each renews the security stamp) loses the circuit, and signs in again to go on.
/// Plain HTTP requests get the same check from Identity's security stamp validator.
/// </summary>
public sealed class SessionRevalidation(
    ILoggerFactory loggerFactory,
    IServiceScopeFactory scopes,
    IOptions<GraceIdentityOptions> options,
    IOptions<Microsoft.AspNetCore.Identity.IdentityOptions> identity)
    : RevalidatingServerAuthenticationStateProvider(loggerFactory)
{
    /// <summary>The meter of Grace's console sessions.</summary>
    public const string MeterName = "Grace.Web.Identity";

    private static readonly Meter Meter = new(MeterName);

    // Operators see that sessions are checked, and how many ended; tests wait on it instead of on the clock.
    private static readonly Counter<long> Revalidations = Meter.CreateCounter<long>(
        "grace.identity.session_revalidations", description: "Open console circuits checked against the database, by outcome: kept or ended.");

    protected override TimeSpan RevalidationInterval => TimeSpan.FromSeconds(Math.Max(1, options.Value.RevalidateSeconds));

    protected override async Task<bool> ValidateAuthenticationStateAsync(AuthenticationState authenticationState, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<GraceUser>>();
        var current = await IsCurrentAsync(users, authenticationState.User);
        Revalidations.Add(1, new KeyValuePair<string, object?>("outcome", current ? "kept" : "ended"));
        return current;
    }

    private async Task<bool> IsCurrentAsync(UserManager<GraceUser> users, ClaimsPrincipal principal)
    {
        // Disabled, not merely locked out after failed sign-ins: a stranger's five wrong passwords must not end the person's open console.
        if (await users.GetUserAsync(principal) is not { } user || UserAdministration.IsDisabled(user.LockoutEnd))
        {
            return false;
        }

        if (!users.SupportsUserSecurityStamp)
        {
            return true;
        }

        var stamp = principal.FindFirstValue(identity.Value.ClaimsIdentity.SecurityStampClaimType);
        return stamp == await users.GetSecurityStampAsync(user);
    }
}
