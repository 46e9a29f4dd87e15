using System.Threading.Channels;
using Grace.Engine.Notifications;
using Microsoft.AspNetCore.SignalR;

namespace Grace.Web.Hubs;

/// <summary>
/// <c>/hubs/pipeline</c>: the engine's pipeline events for external clients. Each event arrives as
/// a client method named after its type (<c>MissionUpdated</c>, <c>ApprovalRequested</c>, ...).
/// </summary>
public sealed class PipelineHub : Hub;

/// <summary>
/// Copies notifier events to the hub through a bounded buffer, so a slow hub never slows the
/// engine; when the buffer is full the oldest events give way and are counted.
/// </summary>
public sealed class PipelineHubForwarder(IPipelineNotifier notifier, IHubContext<PipelineHub> hub, ILogger<PipelineHubForwarder> logger) : BackgroundService
{
    private readonly Channel<PipelineEvent> _buffer = Channel.CreateBounded<PipelineEvent>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var subscription = notifier.Subscribe(e =>
        {
            if (e is ApiKeysChanged)
            {
                return Task.CompletedTask; // Between instances only: it says nothing about the pipeline.
            }

            _buffer.Writer.TryWrite(e);
            return Task.CompletedTask;
        });
        try
        {
            await foreach (var e in _buffer.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await hub.Clients.All.SendAsync(e.Type, e, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning(ex, "Sending {EventType} to the pipeline hub failed", e.Type);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
