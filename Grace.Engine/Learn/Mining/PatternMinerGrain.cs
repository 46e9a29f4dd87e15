using Grace.Engine.Cluster;
using Microsoft.Extensions.Logging;

namespace Grace.Engine.Learn.Mining;

/// <summary>
/// The cluster's one pattern miner. Every instance sends it the incidents it found no pattern for;
/// it holds the <see cref="TemplateMiner"/>, so incidents of one family mined on different instances
/// join one cluster and one suggestion row. It rebuilds from the database when it activates (on
/// start, and on a survivor after its instance died) and every <see cref="PatternMiner.RefreshInterval"/>:
/// one rebuild at a time for the whole cluster. Every instance keeps it alive (see <see cref="InstanceKeeper"/>).
/// </summary>
public interface IPatternMinerGrain : IGrainWithStringKey
{
    /// <summary>Keeps the miner active and its refresh timer running; rebuilds first if it has not yet.</summary>
    [OneWay]
    Task KeepMiningAsync();

    /// <summary>Completes once the miner has been rebuilt from the database (at most once per activation).</summary>
    Task EnsureRebuiltAsync();

    /// <summary>Mines these unmatched incidents, in order, and stores their clusters.</summary>
    Task MineAsync(Guid[] incidentIds);
}

[GrainType(GraceGrainTypes.Miner)]
public sealed class PatternMinerGrain(PatternMiner mining, ILogger<PatternMinerGrain> logger) : Grain, IPatternMinerGrain
{
    public const string Key = "cluster";

    // Calls and the timer's ticks never interleave (the grain's default), so this needs no lock.
    private TemplateMiner? _miner;
    private IGrainTimer? _timer;

    public async Task KeepMiningAsync()
    {
        _timer ??= this.RegisterGrainTimer(RefreshAsync, new GrainTimerCreationOptions(PatternMiner.RefreshInterval, PatternMiner.RefreshInterval) { KeepAlive = true });
        try
        {
            await EnsureRebuiltAsync();
        }
        catch (Exception ex)
        {
            // Mining is advice: Grace heals without it. The next keep-alive (or incident) tries again.
            logger.LogWarning(ex, "Rebuilding the suggested patterns from stored unmatched incidents failed");
        }
    }

    public async Task EnsureRebuiltAsync() => _miner ??= await mining.RebuildAsync(CancellationToken.None);

    public async Task MineAsync(Guid[] incidentIds)
    {
        var miner = _miner ??= await mining.RebuildAsync(CancellationToken.None);
        foreach (var id in incidentIds)
        {
            try
            {
                await mining.MineAsync(miner, id, CancellationToken.None);
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Mining incident {IncidentId} for a suggested pattern failed", id);
            }
        }
    }

    /// <summary>
    /// Incidents counted more signals since they were mined, others were matched by a pattern added
    /// since, and some were mined by no one (an instance's queue was full, or it stopped first).
    /// </summary>
    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            _miner = await mining.RebuildAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Refreshing the suggested patterns failed; trying again in {Minutes} min", PatternMiner.RefreshInterval.TotalMinutes);
        }
    }
}
