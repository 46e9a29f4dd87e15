using System.Collections.Concurrent;
using System.Threading.Channels;
using Grace.Engine.Gate;

namespace Grace.Engine.Missions;

/// <summary>Missions waiting to be advanced, each at most once in the queue.</summary>
public sealed class MissionQueue : IMissionScheduler
{
    private readonly Channel<Guid> _channel = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<Guid, byte> _queued = new();

    public void Enqueue(Guid missionId)
    {
        if (_queued.TryAdd(missionId, 0))
        {
            _channel.Writer.TryWrite(missionId);
        }
    }

    public async IAsyncEnumerable<Guid> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var id in _channel.Reader.ReadAllAsync(cancellationToken))
        {
            _queued.TryRemove(id, out _);
            yield return id;
        }
    }
}
