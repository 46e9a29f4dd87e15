using System.Collections.Immutable;
using Microsoft.Extensions.Logging;

namespace Grace.Engine.Notifications;

/// <summary>
/// In-process fan-out of pipeline events. Subscribers get an <see cref="IDisposable"/> to leave.
/// Publishing never waits for a subscriber: a handler that is slow or throws only hurts itself.
/// </summary>
public interface IPipelineNotifier
{
    IDisposable Subscribe(Func<PipelineEvent, Task> handler);

    /// <summary>An event of this instance: delivered to its subscribers, and relayed to every other instance of the cluster.</summary>
    void Publish(PipelineEvent pipelineEvent);

    /// <summary>An event relayed from another instance: delivered to this instance's subscribers only.</summary>
    void Deliver(PipelineEvent pipelineEvent);
}

/// <summary>Carries this instance's pipeline events to the other instances of the cluster.</summary>
public interface IPipelineEventRelay
{
    /// <summary>Queues the event for the other instances; never blocks.</summary>
    void Forward(PipelineEvent pipelineEvent);
}

public sealed class PipelineNotifier(ILogger<PipelineNotifier> logger, IEnumerable<IPipelineEventRelay> relays) : IPipelineNotifier
{
    private readonly IPipelineEventRelay[] _relays = [.. relays];
    private ImmutableArray<Func<PipelineEvent, Task>> _handlers = [];

    public IDisposable Subscribe(Func<PipelineEvent, Task> handler)
    {
        ImmutableInterlocked.Update(ref _handlers, h => h.Add(handler));
        return new Subscription(this, handler);
    }

    public void Publish(PipelineEvent pipelineEvent)
    {
        Deliver(pipelineEvent);
        foreach (var relay in _relays)
        {
            relay.Forward(pipelineEvent);
        }
    }

    public void Deliver(PipelineEvent pipelineEvent)
    {
        foreach (var handler in _handlers)
        {
            try
            {
                var task = handler(pipelineEvent);
                if (!task.IsCompletedSuccessfully)
                {
                    _ = Observe(task);
                }
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "A pipeline subscriber failed on {EventType}", pipelineEvent.Type);
            }
        }
    }

    private async Task Observe(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "A pipeline subscriber failed");
        }
    }

    private sealed class Subscription(PipelineNotifier owner, Func<PipelineEvent, Task> handler) : IDisposable
    {
        public void Dispose() => ImmutableInterlocked.Update(ref owner._handlers, h => h.Remove(handler));
    }
}
