using System.Security.Cryptography;

namespace Grace.Web.Security;

/// <summary>
/// Headers every response carries, and redirects that never name a host. The Content-Security-Policy
/// allows scripts only from Grace itself plus the one inline script Blazor writes (the import map),
/// by a per-request nonce; styles may be inline because MudBlazor sets style attributes and writes
/// its theme as a style element. Frames are refused outright: nothing embeds the console.
/// </summary>
public static class SecurityHeaders
{
    private const string NonceKey = "grace.csp-nonce";

    /// <summary>The nonce this response's Content-Security-Policy allows inline scripts with.</summary>
    public static string Nonce(HttpContext context) =>
        context.Items.TryGetValue(NonceKey, out var nonce) && nonce is string text ? text : "";

    public static IApplicationBuilder UseGraceSecurityHeaders(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        // Base64url: no '+' or '/', so the nonce reads the same in the header and in the HTML attribute (never entity-encoded).
        var nonce = System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
        context.Items[NonceKey] = nonce;
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()";
            headers.ContentSecurityPolicy =
                "default-src 'self'; " +
                $"script-src 'self' 'nonce-{nonce}'; " +
                "style-src 'self' 'unsafe-inline'; " +
                "img-src 'self' data:; " +
                "font-src 'self' data:; " +
                // 'self' covers the circuit's and the hub's WebSockets on the same host and port.
                "connect-src 'self'; " +
                "object-src 'none'; " +
                "base-uri 'self'; " +
                "form-action 'self'; " +
                "frame-ancestors 'none'";
            RelativeLocation(context);
            return Task.CompletedTask;
        });
        await next(context);
    });

    /// <summary>
    /// A redirect to this very host is sent as a path: the Host header a client sent (perhaps a forged
    /// one) never comes back in a Location. Framework code (the cookie challenge, Blazor's
    /// NavigateTo during prerendering) builds absolute URLs from it.
    /// </summary>
    private static void RelativeLocation(HttpContext context)
    {
        var location = context.Response.Headers.Location.ToString();
        if (location.Length == 0 || !Uri.TryCreate(location, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return;
        }

        if (string.Equals(uri.Authority, context.Request.Host.Value, StringComparison.OrdinalIgnoreCase)
            || string.Equals(uri.Host, context.Request.Host.Host, StringComparison.OrdinalIgnoreCase))
        {
            context.Response.Headers.Location = uri.PathAndQuery + uri.Fragment;
        }
    }
}
