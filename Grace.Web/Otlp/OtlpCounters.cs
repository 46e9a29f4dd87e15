using System.Diagnostics.Metrics;

namespace Grace.Web.Otlp;

/// <summary>
/// What came in over OTLP and what became of it. Records below the severity threshold are the
/// bulk of any log stream: they are counted here so an operator can see they arrived, and go no further.
/// </summary>
public sealed class OtlpCounters : IDisposable
{
    public const string MeterName = "Grace.Web.Otlp";

    private readonly Meter _meter;
    private readonly Counter<long> _records;
    private long _requests;
    private long _signals;
    private long _ignored;
    private long _rejected;

    public OtlpCounters(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _records = _meter.CreateCounter<long>("grace.otlp.log_records", unit: "{record}", description: "OTLP log records received, by outcome (signal, ignored below the threshold, rejected).");
    }

    /// <summary>Export requests that were read and parsed.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Records at or above the threshold, taken as signals.</summary>
    public long Signals => Interlocked.Read(ref _signals);

    /// <summary>Records below the threshold: counted and ignored.</summary>
    public long Ignored => Interlocked.Read(ref _ignored);

    /// <summary>Records refused (reported back as partial success).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    internal void Record(long signals, long ignored, long rejected)
    {
        Interlocked.Increment(ref _requests);
        Add(ref _signals, signals, "signal");
        Add(ref _ignored, ignored, "ignored");
        Add(ref _rejected, rejected, "rejected");
    }

    private void Add(ref long total, long count, string outcome)
    {
        if (count > 0)
        {
            Interlocked.Add(ref total, count);
            _records.Add(count, new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    public void Dispose() => _meter.Dispose();
}
