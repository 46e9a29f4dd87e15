using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;

namespace Grace.Web.Security;

/// <summary>The long-lived connections Grace caps: console circuits and pipeline-hub clients.</summary>
public enum ConnectionKind
{
    Circuit,
    Hub,
}

/// <summary>
/// Caps the open console circuits (<c>/_blazor</c>) and pipeline-hub connections (<c>/hubs/pipeline</c>)
/// per person and per instance (<see cref="GraceHttpOptions"/>). Each circuit holds its components'
/// state in memory, so one person opening tabs in a loop could otherwise exhaust the process.
/// A connection is counted for as long as its WebSocket or event-stream request lasts, which is exactly
/// as long as the connection is open; a negotiation at the cap is refused with a message saying why,
/// which the person sees before any connection is tried. Long polling (a request per message, not
/// countable) is not offered on these paths: both clients use WebSockets or event streams.
/// Counts are per instance: behind a load balancer with N instances a person can hold N times the cap.
/// </summary>
public sealed class ConnectionLimiter(IOptionsMonitor<GraceHttpOptions> options)
{
    public const string MeterName = "Grace.Web.Connections";
    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Refused = Meter.CreateCounter<long>(
        "grace.web.connections_refused", description: "Circuits and hub connections refused at a cap, by kind.");

    private readonly Lock _lock = new();
    private readonly Dictionary<(ConnectionKind, string), int> _perUser = [];
    private readonly int[] _total = new int[2];

    /// <summary>Open connections of a kind on this instance.</summary>
    public int Open(ConnectionKind kind)
    {
        lock (_lock)
        {
            return _total[(int)kind];
        }
    }

    /// <summary>Why a new connection of <paramref name="kind"/> for <paramref name="user"/> would be refused, or null.</summary>
    public string? WhyNot(ConnectionKind kind, string user)
    {
        lock (_lock)
        {
            return WhyNotLocked(kind, user);
        }
    }

    /// <summary>Takes a slot, or says why not. Dispose the lease when the connection ends.</summary>
    public IDisposable? TryAcquire(ConnectionKind kind, string user, out string? refusal)
    {
        lock (_lock)
        {
            refusal = WhyNotLocked(kind, user);
            if (refusal is not null)
            {
                Refused.Add(1, new KeyValuePair<string, object?>("kind", kind.ToString()));
                return null;
            }

            _perUser[(kind, user)] = _perUser.GetValueOrDefault((kind, user)) + 1;
            _total[(int)kind]++;
            return new Lease(this, kind, user);
        }
    }

    private string? WhyNotLocked(ConnectionKind kind, string user)
    {
        var o = options.CurrentValue;
        var (perUser, total, what, userKey, totalKey) = kind == ConnectionKind.Circuit
            ? (o.MaxCircuitsPerUser, o.MaxCircuits, "console windows", "MaxCircuitsPerUser", "MaxCircuits")
            : (o.MaxHubConnectionsPerUser, o.MaxHubConnections, "pipeline-hub connections", "MaxHubConnectionsPerUser", "MaxHubConnections");
        if (_perUser.GetValueOrDefault((kind, user)) >= perUser)
        {
            return $"{user} already has {perUser} {what} open, the most one person may have (Grace:Http:{userKey}). Close one and reload.";
        }

        return _total[(int)kind] >= total
            ? $"This Grace instance already has {total} {what} open, its limit (Grace:Http:{totalKey}). Try again later."
            : null;
    }

    private void Release(ConnectionKind kind, string user)
    {
        lock (_lock)
        {
            var left = _perUser[(kind, user)] - 1;
            if (left == 0)
            {
                _perUser.Remove((kind, user));
            }
            else
            {
                _perUser[(kind, user)] = left;
            }

            _total[(int)kind]--;
        }
    }

    private sealed class Lease(ConnectionLimiter owner, ConnectionKind kind, string user) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Release(kind, user);
            }
        }
    }
}

/// <summary>The middleware in front of the circuit and hub endpoints.</summary>
public static class ConnectionLimitMiddleware
{
    /// <summary>The middleware: counts connection requests on the two paths, refuses at the caps with 429.</summary>
    public static IApplicationBuilder UseGraceConnectionLimits(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        ConnectionKind? kind = context.Request.Path.StartsWithSegments("/_blazor") ? ConnectionKind.Circuit
            : context.Request.Path.StartsWithSegments("/hubs/pipeline") ? ConnectionKind.Hub
            : null;
        if (kind is null)
        {
            await next(context);
            return;
        }

        var limiter = context.RequestServices.GetRequiredService<ConnectionLimiter>();
        var user = Holder(context);
        var isNegotiate = context.Request.Path.Value!.EndsWith("/negotiate", StringComparison.Ordinal);
        // The upgrade header, not only the WebSockets feature: this runs before the hub endpoint sets that feature up.
        var isStream = context.WebSockets.IsWebSocketRequest
            || context.Request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase)
            || HttpMethods.IsConnect(context.Request.Method)
            || (HttpMethods.IsGet(context.Request.Method) && context.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.Ordinal));
        if (isNegotiate)
        {
            if (limiter.WhyNot(kind.Value, user) is { } why)
            {
                await RefuseAsync(context, why);
                return;
            }

            await next(context);
            return;
        }

        if (!isStream)
        {
            if (HttpMethods.IsGet(context.Request.Method) && context.Request.Query.ContainsKey("id"))
            {
                // A long-polling receive: one request per message, so it could not be counted.
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsync("Long polling is not offered here; use WebSockets or server-sent events.");
                return;
            }

            await next(context);
            return;
        }

        using var lease = limiter.TryAcquire(kind.Value, user, out var refusal);
        if (lease is null)
        {
            await RefuseAsync(context, refusal!);
            return;
        }

        await next(context);
    });

    /// <summary>Whose connections a request counts against: a person by name, an API key by its id; the anonymous are refused by authorization anyway.</summary>
    public static string Holder(HttpContext context) =>
        context.User.Identity?.IsAuthenticated == true
            ? context.User.FindFirst(Api.ApiKeyAuthenticationHandler.KeyIdClaim)?.Value is { } keyId ? $"key:{keyId}" : context.User.Identity.Name ?? "?"
            : $"anonymous:{context.Connection.RemoteIpAddress}";

    private static async Task RefuseAsync(HttpContext context, string why)
    {
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = "30";
        await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many open connections.", detail: why).ExecuteAsync(context);
    }
}
