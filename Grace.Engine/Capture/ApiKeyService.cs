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

/// <summary>What a presented key turned out to be, and what it may do when it is known.</summary>
public sealed record ApiKeyGrant(ApiKeyCheck Check, Guid Id, string Name, ApiKeyLimits Limits);

/// <summary>
/// What a key may do: which endpoints (<see cref="Scopes"/>) and, optionally, which sources (as
/// prefixes), targets and catalog patterns its signals may be about. Empty lists mean no limit.
/// </summary>
public sealed record ApiKeyLimits(ApiKeyScopes Scopes, IReadOnlyList<string> Sources, IReadOnlyList<string> Targets, IReadOnlyList<string> Patterns)
{
    /// <summary>Every ingestion scope, no limits: what a key gets unless the Admin chooses otherwise.</summary>
    public static ApiKeyLimits All { get; } = new(ApiKeyScopes.Ingest, [], [], []);

    /// <summary>The scope names as keys and people write them, e.g. <c>signals:write</c>.</summary>
    public static IReadOnlyDictionary<ApiKeyScopes, string> ScopeNames { get; } = new Dictionary<ApiKeyScopes, string>
    {
        [ApiKeyScopes.Signals] = "signals:write",
        [ApiKeyScopes.Alerts] = "alerts:write",
        [ApiKeyScopes.Webhooks] = "webhooks:write",
        [ApiKeyScopes.Metrics] = "metrics:read",
    };

    /// <summary>The names of the scopes held, in a fixed order.</summary>
    public static IEnumerable<string> NamesOf(ApiKeyScopes scopes) => ScopeNames.Where(s => scopes.HasFlag(s.Key)).Select(s => s.Value);

    internal static ApiKeyLimits Of(ApiKey row) => new(row.Scopes, row.AllowedSources, row.AllowedTargets, row.AllowedPatterns);
}

/// <summary>
/// Ingestion keys: Admins create, limit and revoke them (audited); programs present them on every
/// request. Only a SHA-256 hash is stored: the keys are 192 random bits, so a slow password hash
/// would add cost without adding safety. Checks are cached briefly; a change or revocation clears
/// the cache. A key's last use is kept in memory and written at most once a minute per key
/// (<see cref="FlushUsageAsync"/>), never once per request.
/// </summary>
public sealed class ApiKeyService
{
    private readonly IDbContextFactory<GraceDbContext> _dbFactory;
    private readonly Audit.AuditTrail _audit;
    private readonly TimeProvider _time;
    private readonly Microsoft.Extensions.Options.IOptionsMonitor<Configuration.CatalogOptions> _catalog;
    private readonly Notifications.IPipelineNotifier _notifier;

    private const string Scheme = "grace_";
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StaleFor = TimeSpan.FromHours(1);
    private readonly ConcurrentDictionary<string, (ApiKeyGrant Grant, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);
    // Uses seen since the last flush: one entry per key, so memory is bounded by the number of keys.
    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _unwrittenUse = new();

    /// <summary>How often the last-use times are written (and so how stale the stored one may be).</summary>
    public static readonly TimeSpan UsageFlushInterval = TimeSpan.FromMinutes(1);

    public ApiKeyService(IDbContextFactory<GraceDbContext> dbFactory, Audit.AuditTrail audit, TimeProvider time,
        Microsoft.Extensions.Options.IOptionsMonitor<Configuration.CatalogOptions> catalog, Notifications.IPipelineNotifier notifier)
    {
        _dbFactory = dbFactory;
        _audit = audit;
        _time = time;
        _catalog = catalog;
        _notifier = notifier;
        // Another instance limited or revoked a key: forget every cached check (this service lives as long as the process).
        _notifier.Subscribe(e =>
        {
            if (e is Notifications.ApiKeysChanged)
            {
                _cache.Clear();
            }

            return Task.CompletedTask;
        });
    }

    /// <summary>Creates a key with every ingestion scope and no limits, and returns it; it is never shown again. Admins only.</summary>
    public Task<(ApiKey Row, string Key)> CreateAsync(string name, Actor actor, CancellationToken cancellationToken) =>
        CreateAsync(name, ApiKeyLimits.All, actor, cancellationToken);

    /// <summary>Creates a key with the given scopes and limits and returns it; it is never shown again. Admins only.</summary>
    public async Task<(ApiKey Row, string Key)> CreateAsync(string name, ApiKeyLimits limits, Actor actor, CancellationToken cancellationToken)
    {
        RequireAdmin(actor);
        if (string.IsNullOrWhiteSpace(name) || name.Length > ColumnLimits.ApiKeyName)
        {
            throw new MissionOperationException($"A key needs a name of 1 to {ColumnLimits.ApiKeyName} characters (what will use it).", field: "name");
        }

        var clean = Validate(limits);
        var prefix = Scheme + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var key = $"{prefix}_{secret}";
        var now = _time.GetUtcNow();
        var row = new ApiKey
        {
            Id = Guid.CreateVersion7(now), Name = name.Trim(), Prefix = prefix, Hash = HashOf(key), CreatedBy = actor.Name, CreatedAt = now,
            Scopes = clean.Scopes, AllowedSources = [.. clean.Sources], AllowedTargets = [.. clean.Targets], AllowedPatterns = [.. clean.Patterns],
        };
        await using var db = await _dbFactory.CreateDbContextAsync(cancellationToken);
        db.ApiKeys.Add(row);
        _audit.Add(db, actor, "api-key.create", $"api-key/{prefix}", $"{row.Name}: {Describe(clean)}", now);
        await db.SaveChangesAsync(cancellationToken);
        return (row, key);
    }

    /// <summary>Changes what a key may do; applies to its next request (the check cache is cleared). Admins only, audited.</summary>
    public async Task UpdateLimitsAsync(Guid id, ApiKeyLimits limits, Actor actor, CancellationToken cancellationToken)
    {
        RequireAdmin(actor);
        var clean = Validate(limits);
        await using var db = await _dbFactory.CreateDbContextAsync(cancellationToken);
        var row = await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == id, cancellationToken)
            ?? throw new MissionOperationException($"API key {id} does not exist.", notFound: true);
        row.Scopes = clean.Scopes;
        row.AllowedSources = [.. clean.Sources];
        row.AllowedTargets = [.. clean.Targets];
        row.AllowedPatterns = [.. clean.Patterns];
        _audit.Add(db, actor, "api-key.limit", $"api-key/{row.Prefix}", $"{row.Name}: {Describe(clean)}", _time.GetUtcNow());
        await db.SaveChangesAsync(cancellationToken);
        Changed();
    }

    /// <summary>Clears this instance's check cache, and every other instance's through the cluster relay.</summary>
    private void Changed()
    {
        _cache.Clear();
        _notifier.Publish(new Notifications.ApiKeysChanged(_time.GetUtcNow()));
    }

    /// <summary>Scopes and limits in one line, for the audit log and the console.</summary>
    public static string Describe(ApiKeyLimits limits)
    {
        var parts = new List<string> { string.Join(" ", ApiKeyLimits.NamesOf(limits.Scopes)) is { Length: > 0 } names ? names : "no scopes" };
        if (limits.Sources.Count > 0)
        {
            parts.Add($"sources {string.Join(", ", limits.Sources)}");
        }

        if (limits.Targets.Count > 0)
        {
            parts.Add($"targets {string.Join(", ", limits.Targets)}");
        }

        if (limits.Patterns.Count > 0)
        {
            parts.Add($"patterns {string.Join(", ", limits.Patterns)}");
        }

        return string.Join("; ", parts);
    }

    /// <summary>Checks scopes and limits against the catalog; returns them trimmed and without duplicates.</summary>
    private ApiKeyLimits Validate(ApiKeyLimits limits)
    {
        const ApiKeyScopes known = ApiKeyScopes.Ingest | ApiKeyScopes.Metrics;
        if (limits.Scopes == ApiKeyScopes.None || (limits.Scopes & ~known) != ApiKeyScopes.None)
        {
            throw new MissionOperationException($"A key needs at least one scope of {string.Join(", ", ApiKeyLimits.ScopeNames.Values)}.", field: "scopes");
        }

        var current = _catalog.CurrentValue;
        var sources = Clean(limits.Sources, "sources");
        foreach (var source in sources)
        {
            if (SignalSources.ReservedPrefix(source, current.ReservedSources) is { } reserved)
            {
                throw new MissionOperationException($"Source '{source}' is reserved for Grace's own observers ('{reserved}'); no key may report under it.", field: "sources");
            }
        }

        var targets = Clean(limits.Targets, "targets");
        if (targets.FirstOrDefault(t => !current.Targets.ContainsKey(t)) is { } unknownTarget)
        {
            throw new MissionOperationException($"Target '{unknownTarget}' is not a key under Grace:Targets.", field: "targets");
        }

        var patterns = Clean(limits.Patterns, "patterns");
        if (patterns.FirstOrDefault(p => !current.Patterns.ContainsKey(p)) is { } unknownPattern)
        {
            throw new MissionOperationException($"Pattern '{unknownPattern}' is not a key under Grace:Patterns.", field: "patterns");
        }

        return new ApiKeyLimits(limits.Scopes, sources, targets, patterns);
    }

    private static List<string> Clean(IReadOnlyList<string>? entries, string field)
    {
        var clean = (entries ?? []).Select(e => e?.Trim() ?? "").Where(e => e.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (clean.Count > ApiKey.MaxLimitEntries || clean.Any(e => e.Length > ApiKey.MaxLimitEntryLength))
        {
            throw new MissionOperationException($"{field}: at most {ApiKey.MaxLimitEntries} entries of at most {ApiKey.MaxLimitEntryLength} characters each.", field: field);
        }

        return clean;
    }

    public async Task RevokeAsync(Guid id, Actor actor, CancellationToken cancellationToken)
    {
        RequireAdmin(actor);
        await using var db = await _dbFactory.CreateDbContextAsync(cancellationToken);
        var row = await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == id, cancellationToken)
            ?? throw new MissionOperationException($"API key {id} does not exist.", notFound: true);
        if (row.RevokedAt is not null)
        {
            return;
        }

        row.RevokedAt = _time.GetUtcNow();
        row.RevokedBy = actor.Name;
        _audit.Add(db, actor, "api-key.revoke", $"api-key/{row.Prefix}", row.Name, row.RevokedAt);
        await db.SaveChangesAsync(cancellationToken);
        Changed();
    }

    /// <summary>The keys, newest first, with last-use times not yet written filled in from memory.</summary>
    public async Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = await db.ApiKeys.AsNoTracking().OrderByDescending(k => k.CreatedAt).ToListAsync(cancellationToken);
        foreach (var row in rows)
        {
            if (_unwrittenUse.TryGetValue(row.Id, out var used) && (row.LastUsedAt is null || used > row.LastUsedAt))
            {
                row.LastUsedAt = used;
            }
        }

        return rows;
    }

    /// <summary>
    /// Writes the last-use times seen since the previous flush: one UPDATE per key used, at most
    /// once per <see cref="UsageFlushInterval"/> (the writer's timer). Returns how many keys were written.
    /// </summary>
    public async Task<int> FlushUsageAsync(CancellationToken cancellationToken)
    {
        var written = 0;
        foreach (var id in _unwrittenUse.Keys)
        {
            if (!_unwrittenUse.TryRemove(id, out var at))
            {
                continue;
            }

            try
            {
                await using var db = await _dbFactory.CreateDbContextAsync(cancellationToken);
                written += await db.ApiKeys.Where(k => k.Id == id).ExecuteUpdateAsync(u => u.SetProperty(k => k.LastUsedAt, at), cancellationToken);
            }
            catch
            {
                // Kept for the next flush unless a newer use came in meanwhile.
                _unwrittenUse.TryAdd(id, at);
                throw;
            }
        }

        return written;
    }

    /// <summary>Checks a presented key. Returns the key's id, name, scopes and limits when it is known.</summary>
    public async Task<ApiKeyGrant> CheckAsync(string presented, CancellationToken cancellationToken)
    {
        var grant = await LookUpAsync(presented, cancellationToken);
        if (grant.Check == ApiKeyCheck.Valid)
        {
            _unwrittenUse[grant.Id] = _time.GetUtcNow();
        }

        return grant;
    }

    private async Task<ApiKeyGrant> LookUpAsync(string presented, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var hash = HashOf(presented);
        var known = _cache.TryGetValue(hash, out var cached);
        if (known && cached.Until > now)
        {
            return cached.Grant;
        }

        var result = new ApiKeyGrant(ApiKeyCheck.Unknown, Guid.Empty, "", ApiKeyLimits.All);
        var parts = presented.Split('_');
        if (parts.Length >= 3 && presented.StartsWith(Scheme, StringComparison.Ordinal))
        {
            var prefix = $"{parts[0]}_{parts[1]}";
            try
            {
                await using var db = await _dbFactory.CreateDbContextAsync(cancellationToken);
                var row = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Prefix == prefix, cancellationToken);
                if (row is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(row.Hash), Encoding.ASCII.GetBytes(hash)))
                {
                    result = new ApiKeyGrant(row.RevokedAt is null ? ApiKeyCheck.Valid : ApiKeyCheck.Revoked, row.Id, row.Name, ApiKeyLimits.Of(row));
                }
            }
            catch (Exception ex) when (known && now - cached.Until < StaleFor && DatabaseErrors.IsUnavailable(ex))
            {
                // The database is away: a key seen recently keeps its last answer, so a monitoring
                // system is not locked out by an outage; a revocation applies once it is back.
                return cached.Grant;
            }
        }

        // Unknown keys are not cached: random guesses must not push real keys out of the cache.
        if (result.Check != ApiKeyCheck.Unknown)
        {
            if (_cache.Count > 10_000 && !known)
            {
                _cache.Clear();
            }

            _cache[hash] = (result, now + CacheFor);
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
