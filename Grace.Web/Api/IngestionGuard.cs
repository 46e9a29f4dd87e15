using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Grace.Engine.Diagnose;
using Grace.Engine.Missions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Grace.Web.Api;

/// <summary>Endpoint metadata: the API key scope an ingestion endpoint needs (read by the 403 answer to name it).</summary>
public sealed record RequiredApiKeyScope(ApiKeyScopes Scope);

/// <summary>
/// Who may send what. Per endpoint: a key needs the endpoint's scope (a signed-in Operator, Lead or
/// Admin may send without one). Per signal: no caller may claim a source Grace reserves for its own
/// observers, and a key limited to sources, targets or patterns may only report for those.
/// </summary>
public static class IngestionGuard
{
    /// <summary>The policy name for a scope, e.g. <c>ingest:signals:write</c>.</summary>
    public static string PolicyFor(ApiKeyScopes scope) => $"ingest:{ApiKeyLimits.ScopeNames[scope]}";

    /// <summary>One policy per scope: a valid key holding it, or a person who may send signals.</summary>
    public static AuthorizationBuilder AddIngestionPolicies(this AuthorizationBuilder builder)
    {
        foreach (var (scope, name) in ApiKeyLimits.ScopeNames.Where(s => (ApiKeyScopes.Ingest & s.Key) == s.Key))
        {
            builder.AddPolicy(PolicyFor(scope), p => p
                .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName, IdentityConstants.ApplicationScheme)
                .RequireAuthenticatedUser()
                // A key must not be revoked and must hold the scope; a signed-in person (the console's cookie) must be an
                // Operator or above, since a signal can start a tier-0 action and a "resolved" notice closes an incident.
                .RequireAssertion(c => c.User.Identity?.AuthenticationType == ApiKeyAuthenticationHandler.SchemeName
                    ? !c.User.HasClaim(ApiKeyAuthenticationHandler.RevokedClaim, "true") && c.User.HasClaim(ApiKeyAuthenticationHandler.ScopeClaim, name)
                    : Grace.Engine.Missions.RolePermissions.RolesFor(Grace.Engine.Missions.Permission.SendSignals).Any(c.User.IsInRole)));
        }

        return builder;
    }

    /// <summary>Requires the scope's policy and names the scope for the 403 answer.</summary>
    public static RouteHandlerBuilder RequireIngestScope(this RouteHandlerBuilder endpoint, ApiKeyScopes scope) =>
        endpoint.RequireAuthorization(PolicyFor(scope)).WithMetadata(new RequiredApiKeyScope(scope));

    /// <summary>
    /// Checks every signal of a request before any is queued. Returns a 403 problem naming each
    /// signal's field and the rule it breaks, or null when all may be sent.
    /// </summary>
    /// <param name="context">The request: its caller and, for a key, the key's limits.</param>
    /// <param name="signals">Each signal with the path its problems are reported under (<c>[3].</c>, <c>alerts[0].</c>).</param>
    public static IResult? Check(HttpContext context, IEnumerable<(string Path, Signal Signal)> signals)
    {
        var catalog = context.RequestServices.GetRequiredService<IOptionsMonitor<CatalogOptions>>().CurrentValue;
        var limits = context.Items[typeof(ApiKeyGrant)] is ApiKeyGrant grant ? grant.Limits : null;
        var errors = new Dictionary<string, string[]>();
        foreach (var (path, signal) in signals)
        {
            if (SignalSources.ReservedPrefix(signal.Source, catalog.ReservedSources) is { } reserved)
            {
                errors[path + "source"] = [$"Source '{signal.Source}' uses the reserved prefix '{reserved}': only Grace's own observers report under it."];
                continue;
            }

            if (limits is null)
            {
                continue;
            }

            if (limits.Sources.Count > 0 && !limits.Sources.Any(s => signal.Source.StartsWith(s, StringComparison.OrdinalIgnoreCase)))
            {
                errors[path + "source"] = [$"This key may report only for sources starting with {string.Join(", ", limits.Sources.Select(s => $"'{s}'"))}; not '{signal.Source}'."];
            }

            if (limits.Targets.Count > 0 && (signal.Target is null || !limits.Targets.Contains(signal.Target, StringComparer.OrdinalIgnoreCase)))
            {
                errors[path + "target"] = [$"This key may report only for the targets {string.Join(", ", limits.Targets)}; the signal names {(signal.Target is null ? "none" : $"'{signal.Target}'")}."];
            }

            if (limits.Patterns.Count > 0 && !limits.Patterns.Any(p => catalog.Patterns.TryGetValue(p, out var pattern) && Sentinel.Matches(pattern, signal)))
            {
                errors[path.Length == 0 ? "body" : path.TrimEnd('.')] = [$"This key may report only signals matching the patterns {string.Join(", ", limits.Patterns)}; this one matches none of them."];
            }
        }

        return errors.Count == 0 ? null : Results.Problem(statusCode: StatusCodes.Status403Forbidden,
            title: "One or more signals may not be sent by this caller; none were accepted.",
            detail: string.Join(" ", errors.Values.SelectMany(v => v).Distinct().Take(3)),
            extensions: new Dictionary<string, object?> { ["errors"] = errors });
    }
}
