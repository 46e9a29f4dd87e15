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

        var (check, id, name) = await keys.CheckAsync(presented, Context.RequestAborted);
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

        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
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
