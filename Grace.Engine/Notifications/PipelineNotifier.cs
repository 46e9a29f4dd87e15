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
    void Publish(PipelineEvent pipelineEvent);
}

public sealed class PipelineNotifier(ILogger<PipelineNotifier> logger) : IPipelineNotifier
{
    private ImmutableArray<Func<PipelineEvent, Task>> _handlers = [];

    public IDisposable Subscribe(Func<PipelineEvent, Task> handler)
    {
        ImmutableInterlocked.Update(ref _handlers, h => h.Add(handler));
        return new Subscription(this, handler);
    }

    public void Publish(PipelineEvent pipelineEvent)
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
