using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Microsoft.EntityFrameworkCore;

namespace Grace.Engine.Capture;

/// <summary>What a presented key turned out to be.</summary>
public enum ApiKeyCheck
{
    Unknown,
    Valid,
    Revoked,
}

/// <summary>
/// Ingestion keys: Admins create and revoke them (audited); programs present them on every
/// request. Only a SHA-256 hash is stored: the keys are 192 random bits, so a slow password hash
/// would add cost without adding safety. Checks are cached briefly; a revocation clears the cache.
/// </summary>
public sealed class ApiKeyService(IDbContextFactory<GraceDbContext> dbFactory, Audit.AuditTrail audit, TimeProvider time)
{
    private const string Scheme = "grace_";
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StaleFor = TimeSpan.FromHours(1);
    private readonly ConcurrentDictionary<string, (ApiKeyCheck Check, Guid Id, string Name, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);

    /// <summary>Creates a key and returns it; it is never shown again. Admins only.</summary>
    public async Task<(ApiKey Row, string Key)> CreateAsync(string name, Actor actor, CancellationToken cancellationToken)
    {
        RequireAdmin(actor);
        if (string.IsNullOrWhiteSpace(name) || name.Length > ColumnLimits.ApiKeyName)
        {
            throw new MissionOperationException("A key needs a name of 1 to 128 characters (what will use it).");
        }

        var prefix = Scheme + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var key = $"{prefix}_{secret}";
        var now = time.GetUtcNow();
        var row = new ApiKey { Id = Guid.CreateVersion7(now), Name = name.Trim(), Prefix = prefix, Hash = HashOf(key), CreatedBy = actor.Name, CreatedAt = now };
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        db.ApiKeys.Add(row);
        audit.Add(db, actor, "api-key.create", $"api-key/{prefix}", row.Name, now);
        await db.SaveChangesAsync(cancellationToken);
        return (row, key);
    }

    public async Task RevokeAsync(Guid id, Actor actor, CancellationToken cancellationToken)
    {
        RequireAdmin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var row = await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == id, cancellationToken)
            ?? throw new MissionOperationException($"API key {id} does not exist.");
        if (row.RevokedAt is not null)
        {
            return;
        }

        row.RevokedAt = time.GetUtcNow();
        row.RevokedBy = actor.Name;
        audit.Add(db, actor, "api-key.revoke", $"api-key/{row.Prefix}", row.Name, row.RevokedAt);
        await db.SaveChangesAsync(cancellationToken);
        _cache.Clear();
    }

    public async Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.ApiKeys.AsNoTracking().OrderByDescending(k => k.CreatedAt).ToListAsync(cancellationToken);
    }

    /// <summary>Checks a presented key. Returns the key's id and name when it is known.</summary>
    public async Task<(ApiKeyCheck Check, Guid Id, string Name)> CheckAsync(string presented, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var hash = HashOf(presented);
        var known = _cache.TryGetValue(hash, out var cached);
        if (known && cached.Until > now)
        {
            return (cached.Check, cached.Id, cached.Name);
        }

        var result = (Check: ApiKeyCheck.Unknown, Id: Guid.Empty, Name: "");
        var parts = presented.Split('_');
        if (parts.Length >= 3 && presented.StartsWith(Scheme, StringComparison.Ordinal))
        {
            var prefix = $"{parts[0]}_{parts[1]}";
            try
            {
                await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
                var row = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Prefix == prefix, cancellationToken);
                if (row is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(row.Hash), Encoding.ASCII.GetBytes(hash)))
                {
                    result = (row.RevokedAt is null ? ApiKeyCheck.Valid : ApiKeyCheck.Revoked, row.Id, row.Name);
                }
            }
            catch (Exception ex) when (known && now - cached.Until < StaleFor && DatabaseErrors.IsUnavailable(ex))
            {
                // The database is away: a key seen recently keeps its last answer, so a monitoring
                // system is not locked out by an outage; a revocation applies once it is back.
                return (cached.Check, cached.Id, cached.Name);
            }
        }

        // Unknown keys are not cached: random guesses must not push real keys out of the cache.
        if (result.Check != ApiKeyCheck.Unknown)
        {
            if (_cache.Count > 10_000 && !known)
            {
                _cache.Clear();
            }

            _cache[hash] = (result.Check, result.Id, result.Name, now + CacheFor);
        }

        return result;
    }

    private static string HashOf(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static void RequireAdmin(Actor actor)
    {
        if (!actor.Can(Permission.Administer))
        {
            throw new MissionOperationException($"{actor.Name} may not manage API keys: it needs the Admin role.", forbidden: true);
        }
    }
}
