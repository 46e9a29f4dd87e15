using Grace.Engine.Configuration;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Capture;

/// <summary>
/// Storm control: caps on how many missions start, per fingerprint per hour and overall per
/// minute. Signals past a cap still count in their incident; they only do not start missions.
/// </summary>
public sealed class StormGuard(IOptionsMonitor<EngineOptions> options, TimeProvider time)
{
    private readonly Dictionary<string, Queue<DateTimeOffset>> _perFingerprint = new(StringComparer.Ordinal);
    private readonly Queue<DateTimeOffset> _overall = new();
    private readonly Lock _gate = new();
    private long _suppressed;

    /// <summary>Mission starts refused by a cap since the start.</summary>
    public long Suppressed => Interlocked.Read(ref _suppressed);

    /// <summary>Takes a mission start for a fingerprint if both caps allow it.</summary>
    public bool TryStart(string fingerprint)
    {
        var now = time.GetUtcNow();
        var limits = options.CurrentValue;
        lock (_gate)
        {
            Trim(_overall, now - TimeSpan.FromMinutes(1));
            if (!_perFingerprint.TryGetValue(fingerprint, out var starts))
            {
                starts = new Queue<DateTimeOffset>();
                _perFingerprint[fingerprint] = starts;
            }

            Trim(starts, now - TimeSpan.FromHours(1));
            if (_overall.Count >= limits.MaxMissionStartsPerMinute || starts.Count >= limits.MaxMissionStartsPerFingerprintPerHour)
            {
                Interlocked.Increment(ref _suppressed);
                return false;
            }

            _overall.Enqueue(now);
            starts.Enqueue(now);
            if (_perFingerprint.Count > 100_000)
            {
                // Forget quiet fingerprints so a storm of distinct ones cannot grow this forever.
                foreach (var key in _perFingerprint.Where(p => p.Value.Count == 0 || p.Value.Peek() < now - TimeSpan.FromHours(1)).Select(p => p.Key).ToList())
                {
                    _perFingerprint.Remove(key);
                }
            }

            return true;
        }
    }

    /// <summary>Counts a start that happened before this guard existed (restored from the database).</summary>
    public void Seed(string fingerprint, DateTimeOffset at)
    {
        lock (_gate)
        {
            if (!_perFingerprint.TryGetValue(fingerprint, out var starts))
            {
                starts = new Queue<DateTimeOffset>();
                _perFingerprint[fingerprint] = starts;
            }

            starts.Enqueue(at);
            if (at > time.GetUtcNow().AddMinutes(-1))
            {
                _overall.Enqueue(at);
            }
        }
    }

    private static void Trim(Queue<DateTimeOffset> queue, DateTimeOffset since)
    {
        while (queue.Count > 0 && queue.Peek() <= since)
        {
            queue.Dequeue();
        }
    }
}
