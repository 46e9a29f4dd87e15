using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Grace.Client;

/// <summary>Where and how a service sends its errors to Grace (configuration section <c>GraceClient</c>).</summary>
public sealed class GraceClientOptions
{
    public const string Section = "GraceClient";

    /// <summary>Grace's base address, such as <c>https://grace.internal:8080/</c>. Required.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>An ingestion key an Admin created on Grace's API keys page. Required.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The service's name as Grace shows it (the incident's source); the entry assembly's name when empty.</summary>
    public string? Source { get; set; }

    /// <summary>The lowest level sent (<c>Error</c>: errors and criticals). Lower levels never leave the process.</summary>
    public LogLevel MinimumLevel { get; set; } = LogLevel.Error;

    /// <summary>
    /// Events held while Grace is slow or away, including the batch being sent. Beyond it new events
    /// are dropped (never waited for) and counted; Grace is told how many once it answers again.
    /// </summary>
    public int BufferCapacity { get; set; } = 10_000;

    /// <summary>The most events in one request.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>
    /// A rough upper bound on one request's body, below Grace's <c>Grace:Ingestion:MaxBodyBytes</c>
    /// (4 MiB by default). Should Grace still answer 413, the batch is halved until it fits.
    /// </summary>
    public long MaxBatchBytes { get; set; } = 1024 * 1024;

    /// <summary>How long one request may take before it is abandoned and retried.</summary>
    public double RequestTimeoutSeconds { get; set; } = 10;

    /// <summary>The longest wait between retries (they back off exponentially up to it, with jitter).</summary>
    public double MaxRetryDelaySeconds { get; set; } = 30;

    /// <summary>How long disposing (the host stopping) waits for the buffer to reach Grace.</summary>
    public double ShutdownTimeoutSeconds { get; set; } = 5;

    /// <summary>Labels added to every event (environment, region, version).</summary>
    public Dictionary<string, string> Labels { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Where the client says what went wrong with the shipping itself (drops, refusals); the
    /// default is <see cref="System.Diagnostics.Trace"/>. Never the service's own logging, which would loop.
    /// </summary>
    public Action<string>? Diagnostics { get; set; }

    internal string SourceOrDefault => string.IsNullOrWhiteSpace(Source) ? Assembly.GetEntryAssembly()?.GetName().Name ?? "unknown-service" : Source;

    /// <summary>Throws naming the configuration key that is wrong: a misconfigured client fails when the service starts, not silently later.</summary>
    internal void Validate()
    {
        if (Endpoint is null || !Endpoint.IsAbsoluteUri || (Endpoint.Scheme != Uri.UriSchemeHttp && Endpoint.Scheme != Uri.UriSchemeHttps))
        {
            throw new InvalidOperationException($"{Section}:Endpoint must be Grace's absolute http(s) address, such as https://grace.internal:8080/; it is '{Endpoint}'.");
        }

        if (string.IsNullOrWhiteSpace(ApiKey))
        {
            throw new InvalidOperationException($"{Section}:ApiKey is required: an ingestion key from Grace's API keys page.");
        }

        Check(BufferCapacity is >= 1 and <= 10_000_000, "BufferCapacity must be between 1 and 10000000.");
        Check(BatchSize is >= 1 and <= 10_000, "BatchSize must be between 1 and 10000 (Grace takes at most 10000 signals a request).");
        Check(MaxBatchBytes is >= 1024 and <= 256L * 1024 * 1024, "MaxBatchBytes must be between 1024 and 268435456.");
        Check(RequestTimeoutSeconds is >= 0.1 and <= 300, "RequestTimeoutSeconds must be between 0.1 and 300.");
        Check(MaxRetryDelaySeconds is >= 0.01 and <= 3600, "MaxRetryDelaySeconds must be between 0.01 and 3600.");
        Check(ShutdownTimeoutSeconds is >= 0 and <= 300, "ShutdownTimeoutSeconds must be between 0 and 300.");
    }

    private static void Check(bool ok, string message)
    {
        if (!ok)
        {
            throw new InvalidOperationException($"{Section}:{message}");
        }
    }
}
