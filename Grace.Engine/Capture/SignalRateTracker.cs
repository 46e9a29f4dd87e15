using System.Collections.Concurrent;

namespace Grace.Engine.Capture;

/// <summary>Signals per incident per second over the last few minutes, in memory, for the signal-rate probe.</summary>
public sealed class SignalRateTracker(TimeProvider time)
{
    public const int MaxWindowSeconds = 300;
    private readonly ConcurrentDictionary<Guid, Buckets> _incidents = new();

    public void Record(Guid incidentId, long count)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        _incidents.GetOrAdd(incidentId, _ => new Buckets()).Add(now, count);
    }

    public long CountInLast(Guid incidentId, int seconds)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        return _incidents.TryGetValue(incidentId, out var buckets) ? buckets.Sum(now, Math.Clamp(seconds, 1, MaxWindowSeconds)) : 0;
    }

    private sealed class Buckets
    {
        private readonly long[] _second = new long[MaxWindowSeconds];
        private readonly long[] _count = new long[MaxWindowSeconds];
        private readonly Lock _gate = new();

        public void Add(long second, long count)
        {
            var i = (int)(second % MaxWindowSeconds);
            lock (_gate)
            {
                if (_second[i] != second)
                {
                    _second[i] = second;
                    _count[i] = 0;
                }

                _count[i] += count;
            }
        }

        public long Sum(long now, int seconds)
        {
            long total = 0;
            lock (_gate)
            {
                for (var s = now - seconds + 1; s <= now; s++)
                {
                    var i = (int)(s % MaxWindowSeconds);
                    if (_second[i] == s)
                    {
                        total += _count[i];
                    }
                }
            }

            return total;
        }
    }
}
