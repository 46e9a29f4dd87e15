using System.Threading.Channels;
using Grace.Engine.Notifications;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Grace.Engine.Cluster;

/// <summary>
/// Sends this instance's pipeline events to every other active instance, in small batches, so a
/// console page or hub client on any instance sees the whole cluster. Best effort by design: the
/// database holds the truth and pages reload it; a lost batch only delays a live update.
/// </summary>
public sealed class ClusterEventRelay(GraceInstance self, IClusterMembershipService membership, IGrainFactory grains, ILogger<ClusterEventRelay> logger)
    : BackgroundService, IPipelineEventRelay
{
    private const int MaxBatch = 256;
    // Bounded: a stalled cluster link must not hold the engine's memory; the oldest updates give way.
    private readonly Channel<PipelineEvent> _outbox = Channel.CreateBounded<PipelineEvent>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    public void Forward(PipelineEvent pipelineEvent)
    {
        if (self.IsClustered)
        {
            _outbox.Writer.TryWrite(pipelineEvent);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<PipelineEvent>(MaxBatch);
        try
        {
            while (await _outbox.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _outbox.Reader.TryRead(out var e))
                {
                    batch.Add(e);
                }

                var events = batch.ToArray();
                foreach (var member in membership.CurrentSnapshot.Members.Values)
                {
                    if (member.Status != SiloStatus.Active || string.Equals(member.Name, self.Name, StringComparison.OrdinalIgnoreCase))
                    {
                        continue;
                    }

                    try
                    {
                        await grains.GetGrain<IInstanceGrain>(member.Name).DeliverAsync(events);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        logger.LogDebug(ex, "Relaying {Count} events to {Instance} failed", events.Length, member.Name);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
