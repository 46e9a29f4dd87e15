namespace Grace.Data.Entities;

/// <summary>
/// A key a program uses to send signals. Only a SHA-256 hash of the secret is stored; the key is
/// shown once when an Admin creates it. The prefix finds the row without scanning hashes.
/// </summary>
public class ApiKey
{
    /// <summary>At most this many entries in each of <see cref="AllowedSources"/>, <see cref="AllowedTargets"/>, <see cref="AllowedPatterns"/>.</summary>
    public const int MaxLimitEntries = 32;

    /// <summary>Longest entry of a limit list (a source prefix, a target or a pattern key).</summary>
    public const int MaxLimitEntryLength = 256;

    public Guid Id { get; set; }
    public required string Name { get; set; }
    /// <summary>The public part of the key (<c>grace_XXXXXXXX</c>), shown in lists and logs.</summary>
    public required string Prefix { get; set; }
    /// <summary>SHA-256 of the whole key, hex.</summary>
    public required string Hash { get; set; }
    public required string CreatedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    public string? RevokedBy { get; set; }

    /// <summary>Which endpoints the key may call. Keys made before scopes existed have all of the ingestion scopes.</summary>
    public ApiKeyScopes Scopes { get; set; } = ApiKeyScopes.Ingest;

    /// <summary>Source prefixes the key may report for; empty means any source that Grace does not reserve for itself.</summary>
    public List<string> AllowedSources { get; set; } = [];

    /// <summary>Targets (keys under <c>Grace:Targets</c>) the key may report for; empty means any. When set, every signal must name one.</summary>
    public List<string> AllowedTargets { get; set; } = [];

    /// <summary>Catalog patterns (<c>Grace:Patterns</c>) a signal from this key must match; empty means any.</summary>
    public List<string> AllowedPatterns { get; set; } = [];

    /// <summary>When the key last authenticated, to within a minute (written at most once a minute per key).</summary>
    public DateTimeOffset? LastUsedAt { get; set; }
}
