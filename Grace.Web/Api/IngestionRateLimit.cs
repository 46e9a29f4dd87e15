using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Grace.Web.Api;

/// <summary>
/// A token bucket per API key for the ingestion endpoints. Grace owns the buckets (a singleton the
/// container disposes when the host stops) rather than ASP.NET Core's rate-limiting middleware,
/// whose endpoint limiter runs a timer that is never stopped: every host that stopped kept its
/// whole object graph alive through it (ADR 0041).
/// </summary>
public sealed class IngestionRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string> _buckets;

    public IngestionRateLimiter(IOptionsMonitor<IngestionOptions> options)
    {
        _buckets = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ =>
        {
            var limits = options.CurrentValue;
            return new TokenBucketRateLimiterOptions
            {
                TokenLimit = limits.BurstPerKey,
                TokensPerPeriod = limits.RequestsPerSecondPerKey,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            };
        }));
    }

    /// <summary>Takes one token from the caller's bucket (its API key, else its name); never waits.</summary>
    public RateLimitLease Acquire(HttpContext context)
    {
        var key = context.User.FindFirst(ApiKeyAuthenticationHandler.KeyIdClaim)?.Value ?? context.User.Identity?.Name ?? "anonymous";
        return _buckets.AttemptAcquire(key);
    }

    public void Dispose() => _buckets.Dispose();
}

/// <summary>Marks an endpoint whose requests take a token from the caller's ingestion bucket.</summary>
public sealed class IngestionRateLimitMetadata
{
    public static readonly IngestionRateLimitMetadata Instance = new();

    private IngestionRateLimitMetadata()
    {
    }
}

public static class IngestionRateLimitExtensions
{
    /// <summary>Limits the endpoint to Grace:Ingestion:RequestsPerSecondPerKey (burst BurstPerKey) per API key.</summary>
    public static TBuilder RequireIngestionRateLimit<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(IngestionRateLimitMetadata.Instance);

    /// <summary>After authorization (the bucket is the authenticated key's): a request over its key's rate gets 429 with Retry-After.</summary>
    public static IApplicationBuilder UseIngestionRateLimit(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<IngestionRateLimitMetadata>() is null)
        {
            await next(context);
            return;
        }

        using var lease = context.RequestServices.GetRequiredService<IngestionRateLimiter>().Acquire(context);
        if (lease.IsAcquired)
        {
            await next(context);
            return;
        }

        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
        context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests for this key.",
            detail: $"Retry after {retryAfter} s; the limit is Grace:Ingestion:RequestsPerSecondPerKey per key.").ExecuteAsync(context);
    });
}
