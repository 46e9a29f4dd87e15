using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Grace.Engine.Learn.Mining;

/// <summary>
/// On every instance: takes the incidents planning found no pattern for (planning never waits on
/// mining) and hands them, in batches, to the cluster's one <see cref="PatternMinerGrain"/>. It mines
/// nothing itself, so two instances never keep two miners nor write two suggestions for one family.
/// </summary>
public sealed class PatternMiningService(IGrainFactory grains, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<PatternMiningService> logger) : BackgroundService
{
    private const int BatchSize = 100;
    private static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(1);
    private readonly Channel<Guid> _queue = Channel.CreateBounded<Guid>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly TaskCompletionSource _rebuilt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _skipped;

    /// <summary>Completes once the cluster's miner has been rebuilt from the database (tests wait on it).</summary>
    public Task Rebuilt => _rebuilt.Task;

    /// <summary>Incidents not mined because the queue was full (the next rebuild picks them up).</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    private IPatternMinerGrain Miner => grains.GetGrain<IPatternMinerGrain>(PatternMinerGrain.Key);

    /// <summary>An incident the sentinel found no pattern for: mined soon, off the caller's path.</summary>
    public void Enqueue(Guid incidentId)
    {
        if (!_queue.Writer.TryWrite(incidentId))
        {
            Interlocked.Increment(ref _skipped);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            // Grain calls need the silo, which is up once the host has started.
            await WhenStartedAsync(stoppingToken);
            await RebuiltAsync(stoppingToken);
            await ForwardAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _rebuilt.TrySetResult();
        }
    }

    private async Task WhenStartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            await started.Task;
        }
    }

    /// <summary>Waits until the cluster's miner has its rebuild (this instance's incidents join the clusters stored before).</summary>
    private async Task RebuiltAsync(CancellationToken stoppingToken)
    {
        while (true)
        {
            try
            {
                await Miner.EnsureRebuiltAsync().WaitAsync(stoppingToken);
                _rebuilt.TrySetResult();
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "The cluster's pattern miner could not rebuild; trying again");
            }

            await Task.Delay(RetryEvery, time, stoppingToken);
        }
    }

    private async Task ForwardAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Guid>(BatchSize);
        while (await _queue.Reader.WaitToReadAsync(stoppingToken))
        {
            batch.Clear();
            while (batch.Count < BatchSize && _queue.Reader.TryRead(out var id))
            {
                batch.Add(id);
            }

            try
            {
                await Miner.MineAsync([.. batch]).WaitAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Mining is advice; the miner's next rebuild picks these incidents up from the database.
                logger.LogWarning(ex, "Handing {Count} unmatched incidents to the cluster's pattern miner failed", batch.Count);
            }
        }
    }
}
