using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Grace.Benchmarks.Harness;

/// <summary>
/// Which types a phase allocates, by the runtime's own sampling: about every 100 KB allocated, the
/// runtime raises an AllocationTick event naming the type of the object that crossed the mark. Summed
/// by type over a phase, the samples say where the bytes go (no stacks: a type names the code well
/// enough to know where to look, and an in-process listener needs no tool on the machine).
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    // The runtime's provider; GC keyword (0x1) at verbose level carries AllocationTick.
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";
    private const int AllocationTickEvent = 10;
    private readonly ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private volatile bool _on;

    public void Start()
    {
        _bytes.Clear();
        _on = true;
    }

    public void Stop() => _on = false;

    /// <summary>The types with the most bytes sampled, and each one's share of all sampled bytes.</summary>
    public IReadOnlyList<(string Type, long Bytes, double Share)> Top(int count)
    {
        var all = _bytes.Values.Sum();
        return [.. _bytes.OrderByDescending(p => p.Value).Take(count).Select(p => (p.Key, p.Value, all == 0 ? 0 : (double)p.Value / all))];
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == RuntimeProvider)
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_on || eventData.EventId != AllocationTickEvent || eventData.Payload is not { } payload || eventData.PayloadNames is not { } names)
        {
            return;
        }

        string? type = null;
        long amount = 0;
        for (var i = 0; i < names.Count; i++)
        {
            switch (names[i])
            {
                case "TypeName":
                    type = payload[i] as string;
                    break;
                case "AllocationAmount64":
                    amount = Convert.ToInt64(payload[i]);
                    break;
            }
        }

        if (type is not null)
        {
            _bytes.AddOrUpdate(type, amount, (_, sum) => sum + amount);
        }
    }
}
