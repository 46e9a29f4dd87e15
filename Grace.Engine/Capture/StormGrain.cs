using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Cluster;
using Grace.Engine.Configuration;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Capture;

/// <summary>Storm control for the whole cluster: one activation holds the caps, so three instances cannot start three times the allowance.</summary>
public interface IStormGrain : IGrainWithStringKey
{
    /// <summary>Takes a mission start for a fingerprint if both caps allow it.</summary>
    Task<bool> TryStartAsync(string fingerprint);

    /// <summary>Starts held back by a cap since this activation began (a restart of its instance starts the count again).</summary>
    [AlwaysInterleave]
    Task<long> SuppressedAsync();
}

/// <summary>
/// Wraps <see cref="StormGuard"/> in a single activation. On activation it counts the missions
/// started in the last hour from the database, so a failover does not reset the caps.
/// </summary>
[GrainType(GraceGrainTypes.Storm)]
public sealed class StormGrain(IOptionsMonitor<EngineOptions> options, TimeProvider time, IDbContextFactory<GraceDbContext> dbFactory) : Grain, IStormGrain
{
    public const string Key = "cluster";
    private readonly StormGuard _guard = new(options, time);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var since = time.GetUtcNow().AddHours(-1);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var starts = await db.Missions.AsNoTracking()
            .Where(m => m.CreatedAt > since)
            .Join(db.Incidents, m => m.IncidentId, i => i.Id, (m, i) => new { i.Fingerprint, m.CreatedAt })
            .ToListAsync(cancellationToken);
        foreach (var start in starts.OrderBy(s => s.CreatedAt))
        {
            _guard.Seed(start.Fingerprint, start.CreatedAt);
        }
    }

    public Task<bool> TryStartAsync(string fingerprint) => Task.FromResult(_guard.TryStart(fingerprint));

    public Task<long> SuppressedAsync() => Task.FromResult(_guard.Suppressed);
}
