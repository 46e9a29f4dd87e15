using Grace.Engine.Notifications;

namespace Grace.Engine.Cluster;

/// <summary>An instance's own grain, always placed on that instance: how the others reach it.</summary>
public interface IInstanceGrain : IGrainWithStringKey
{
    /// <summary>Pipeline events that happened on other instances, for this instance's console pages and hub clients.</summary>
    [OneWay]
    Task DeliverAsync(PipelineEvent[] events);
}

[GrainType(GraceGrainTypes.Instance), InstancePlacement]
public sealed class InstanceGrain(IPipelineNotifier notifier) : Grain, IInstanceGrain
{
    public Task DeliverAsync(PipelineEvent[] events)
    {
        foreach (var e in events)
        {
            notifier.Deliver(e);
        }

        return Task.CompletedTask;
    }
}
