using System.Globalization;
using Grace.Engine.Cluster;
using Microsoft.Extensions.Options;

namespace Grace.Web.Identity;

/// <summary>
/// Sign-in attempts per client address (<c>Grace:Identity:SignInAttemptsPerMinute</c>), right or
/// wrong, in fixed one-minute windows counted for the whole cluster (<see cref="IAttemptWindowGrain"/>);
/// more get 429 with Retry-After. The lockout protects one account; this slows one address trying
/// many accounts.
/// </summary>
public sealed class SignInRateLimit(IGrainFactory grains, IOptionsMonitor<GraceIdentityOptions> options, ILogger<SignInRateLimit> logger) : IEndpointFilter
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var address = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        TimeSpan? wait;
        try
        {
            wait = await grains.GetGrain<IAttemptWindowGrain>($"sign-in/{address}").TryTakeAsync(options.CurrentValue.SignInAttemptsPerMinute, Window);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // People must be able to sign in while the cluster is in trouble (to see why); each
            // account's lockout, kept in the database, still limits guesses.
            logger.LogWarning(ex, "The sign-in limit for {Address} could not be checked; the attempt goes on", address);
            wait = null;
        }

        if (wait is { } retryAfter)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
            http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            return Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many sign-in attempts.",
                detail: $"Too many sign-in attempts from your address; try again in {seconds} s.");
        }

        return await next(context);
    }
}
