using System.ComponentModel.DataAnnotations;

namespace Grace.Web.Api;

/// <summary>Limits of the ingestion endpoints (<c>Grace:Ingestion</c>).</summary>
public sealed class IngestionOptions
{
    public const string Section = "Grace:Ingestion";

    /// <summary>Largest request body accepted, in bytes; larger gets 413.</summary>
    [Range(1024, 256 * 1024 * 1024, ErrorMessage = "Grace:Ingestion:MaxBodyBytes must be between {1} and {2}.")]
    public int MaxBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Requests per second each key (or signed-in person) may send; beyond it 429 with Retry-After.</summary>
    [Range(1, 1_000_000, ErrorMessage = "Grace:Ingestion:RequestsPerSecondPerKey must be between {1} and {2}.")]
    public int RequestsPerSecondPerKey { get; set; } = 2000;

    /// <summary>How many requests above the rate a key may burst.</summary>
    [Range(1, 1_000_000, ErrorMessage = "Grace:Ingestion:BurstPerKey must be between {1} and {2}.")]
    public int BurstPerKey { get; set; } = 4000;

    /// <summary>
    /// How long a request waits for its signals to be stored before answering. 202 means stored;
    /// past this (the database away) the answer is 503 with Retry-After, and the signals stay queued.
    /// </summary>
    [Range(0.1, 120, ErrorMessage = "Grace:Ingestion:StoreTimeoutSeconds must be between {1} and {2}.")]
    public double StoreTimeoutSeconds { get; set; } = 5;

    /// <summary>
    /// The header that carries a key besides <c>Authorization: Bearer</c>. Collectors and agents
    /// that already send their own header for another backend (Seq's X-Seq-ApiKey, say) can keep it.
    /// </summary>
    [RegularExpression("^[A-Za-z0-9-]{1,64}$", ErrorMessage = "Grace:Ingestion:ApiKeyHeader must be a header name of letters, digits and '-' (at most 64), such as X-Api-Key.")]
    public string ApiKeyHeader { get; set; } = "X-Api-Key";
}
