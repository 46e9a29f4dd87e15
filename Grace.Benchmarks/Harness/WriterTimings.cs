using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Grace.Data;

namespace Grace.Benchmarks.Harness;

/// <summary>
/// The SQLite writer's waits and holds over a phase, by lane, from Grace's own meter
/// (<see cref="SqliteWriterMetrics"/>): whether a mission's writes queue behind capture's.
/// </summary>
internal sealed class WriterTimings : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Instrument, string Lane), ConcurrentQueue<double>> _values = new();

    public WriterTimings()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == SqliteWriterMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            var lane = "?";
            foreach (var tag in tags)
            {
                if (tag.Key == SqliteWriterMetrics.LaneTag)
                {
                    lane = tag.Value as string ?? "?";
                }
            }

            _values.GetOrAdd((instrument.Name, lane), _ => new ConcurrentQueue<double>()).Enqueue(value);
        });
        _listener.Start();
    }

    /// <summary>One line per instrument and lane: count, percentiles, and the share of the phase the writer was held.</summary>
    public IEnumerable<string> Summary(TimeSpan phase) => _values.OrderBy(p => p.Key.Instrument).ThenBy(p => p.Key.Lane).Select(p =>
    {
        var values = p.Value.ToList();
        var held = p.Key.Instrument.EndsWith(".hold", StringComparison.Ordinal) ? $"; held {values.Sum() / phase.TotalMilliseconds:P0} of the phase" : "";
        return $"{p.Key.Instrument} ({p.Key.Lane}): {Stats.Summary(values)}{held}";
    });

    public void Dispose() => _listener.Dispose();
}
