namespace Grace.Data.Entities;

/// <summary>
/// A key a program uses to send signals. Only a SHA-256 hash of the secret is stored; the key is
/// shown once when an Admin creates it. The prefix finds the row without scanning hashes.
/// </summary>
public class ApiKey
{
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
}
