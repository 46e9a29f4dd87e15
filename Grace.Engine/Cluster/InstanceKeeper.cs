using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Cluster;

/// <summary>
/// On every instance, once Grace has fully started (its supervised processes and demo service
/// too): keeps the cluster's singletons alive (the sweeper, the reader of the gauge figures, the pattern miner), so
/// they run somewhere as long as any instance does.
/// </summary>
public sealed class InstanceKeeper(
    IGrainFactory grains,
    GraceInstance self,
    IOptionsMonitor<CatalogOptions> catalog,
    TargetRegistry targets,
    IHostApplicationLifetime lifetime,
    ILogger<InstanceKeeper> logger) : BackgroundService
{
    private static readonly TimeSpan KeepAliveEvery = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Some targets are up only once every hosted service has started (supervised processes, the
        // demo service): a health check before that would report a fault Grace itself has not finished starting.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        logger.LogInformation("Instance {Instance} is running {Mode} (silo {Address}:{Port}, cluster {ClusterId})",
            self.Name, self.IsClustered ? "as part of a cluster" : "alone", self.AdvertisedAddress, self.SiloPort, self.ClusterId);
        foreach (var reason in catalog.CurrentValue.Targets.Keys.Select(targets.Unconfigured).OfType<string>())
        {
            logger.LogInformation("{Reason} Its health check does not run.", reason);
        }

        using var timer = new PeriodicTimer(KeepAliveEvery);
        do
        {
            try
            {
                await grains.GetGrain<ISweeperGrain>(SweeperGrain.Key).KeepSweepingAsync();
                await grains.GetGrain<IClusterFiguresGrain>(ClusterFiguresGrain.Key).KeepReadingAsync();
                await grains.GetGrain<Learn.Mining.IPatternMinerGrain>(Learn.Mining.PatternMinerGrain.Key).KeepMiningAsync();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogDebug(ex, "Keeping the sweeper alive failed; trying again");
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
