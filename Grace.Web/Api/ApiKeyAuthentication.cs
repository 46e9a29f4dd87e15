using System.Security.Claims;
using System.Text.Encodings.Web;
using Grace.Engine.Capture;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Grace.Web.Api;

/// <summary>
/// Authenticates programs by an ingestion key in <c>Authorization: Bearer grace_…</c> or
/// the header <c>Grace:Ingestion:ApiKeyHeader</c> names (<c>X-Api-Key</c> unless configured). A revoked key authenticates (so the caller learns it is revoked, 403) but
/// never passes the ingestion policy.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyService keys, IOptionsMonitor<IngestionOptions> ingestion)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string KeyIdClaim = "grace:api-key";
    public const string RevokedClaim = "grace:api-key-revoked";
    public const string ScopeClaim = "grace:api-key-scope";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? presented = null;
        if (Request.Headers.TryGetValue(ingestion.CurrentValue.ApiKeyHeader, out var header))
        {
            presented = header.ToString();
        }
        else if (Request.Headers.Authorization.ToString() is { } auth && auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            presented = auth["Bearer ".Length..].Trim();
        }

        if (string.IsNullOrEmpty(presented))
        {
            return AuthenticateResult.NoResult();
        }

        var grant = await keys.CheckAsync(presented, Context.RequestAborted);
        var (check, id, name) = (grant.Check, grant.Id, grant.Name);
        if (check == ApiKeyCheck.Unknown)
        {
            // Kept at Warning (the handler's own messages are not): guessed or stale keys leave a trace, never the key itself.
            Logger.LogWarning("An unknown API key was presented from {RemoteAddress} for {Path}", Context.Connection.RemoteIpAddress, Request.Path);
            return AuthenticateResult.Fail("Unknown API key.");
        }

        var claims = new List<Claim> { new(ClaimTypes.Name, $"key:{name}"), new(KeyIdClaim, id.ToString()) };
        if (check == ApiKeyCheck.Revoked)
        {
            claims.Add(new Claim(RevokedClaim, "true"));
        }

        claims.AddRange(ApiKeyLimits.NamesOf(grant.Limits.Scopes).Select(scope => new Claim(ScopeClaim, scope)));
        // The limits (sources, targets, patterns) are checked per signal by IngestionGuard.
        Context.Items[typeof(ApiKeyGrant)] = grant;

        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        if (Response.HasStarted)
        {
            return;
        }

        // Say why: a revoked key, or the scope this endpoint needs. A person's refusal is the cookie scheme's to answer.
        Response.StatusCode = StatusCodes.Status403Forbidden;
        if (Context.User.Identity?.AuthenticationType != SchemeName && !Context.User.HasClaim(c => c.Type == KeyIdClaim))
        {
            return;
        }

        var scope = Context.GetEndpoint()?.Metadata.GetMetadata<RequiredApiKeyScope>()?.Scope;
        var detail = Context.User.HasClaim(RevokedClaim, "true")
            ? "This API key has been revoked; an Admin can create a new one on the API keys page."
            : scope is { } needed
                ? $"This API key lacks the scope '{ApiKeyLimits.ScopeNames[needed]}'; an Admin can grant it on the API keys page."
                : "API keys may not call this endpoint; it is for signed-in people.";
        await Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "This API key may not do that.", detail: detail).ExecuteAsync(Context);
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Response.HasStarted)
        {
            return;
        }

        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer realm=\"grace-ingest\"";
        // A program's author reads this once: say what to send and where a key comes from.
        await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "An API key is required.",
            detail: "Send 'Authorization: Bearer <key>'. Admins create keys on the API keys page of the console (shown once); a signed-in Operator's session works too.")
            .ExecuteAsync(Context);
    }
}
