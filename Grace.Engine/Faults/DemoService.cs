namespace Grace.Engine.Faults;

/// <summary>
/// The state of the small demo service Grace serves on the loopback Url of
/// <c>Grace:Faults:DemoServiceTarget</c>: healthy, or stuck (as a service whose connection pool is
/// exhausted) until someone calls its admin reset. The health-endpoint fault puts it in the stuck
/// state; the shipped playbook's <c>http.call</c> resets it over HTTP, as it would a real service.
/// </summary>
public sealed class DemoService(TimeProvider time)
{
    private readonly Lock _gate = new();
    private string? _failure;
    private DateTimeOffset? _failingSince;
    private long _ordersServed;

    /// <summary>Whether the demo service's HTTP listener is up (the web host that serves it says where).</summary>
    public bool IsListening => ListeningOn is not null;

    public Uri? ListeningOn { get; private set; }

    public void MarkListening(Uri? url) => ListeningOn = url;

    /// <summary>Why the service is unhealthy, or null.</summary>
    public string? Failure
    {
        get
        {
            lock (_gate)
            {
                return _failure;
            }
        }
    }

    public DateTimeOffset? FailingSince
    {
        get
        {
            lock (_gate)
            {
                return _failingSince;
            }
        }
    }

    public long OrdersServed => Interlocked.Read(ref _ordersServed);

    public void Fail(string reason)
    {
        lock (_gate)
        {
            _failure = reason;
            _failingSince ??= time.GetUtcNow();
        }
    }

    /// <summary>Clears the stuck state. Returns whether it was stuck.</summary>
    public bool Reset()
    {
        lock (_gate)
        {
            var was = _failure is not null;
            _failure = null;
            _failingSince = null;
            return was;
        }
    }

    public void CountOrder() => Interlocked.Increment(ref _ordersServed);
}
