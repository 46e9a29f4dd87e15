namespace Grace.Engine.Cluster;

/// <summary>
/// Counts attempts of one kind from one origin (key: <c>sign-in/203.0.113.7</c>) in fixed windows,
/// for the whole cluster: one activation holds the count, so N instances behind a load balancer do
/// not allow N times the limit.
/// </summary>
public interface IAttemptWindowGrain : IGrainWithStringKey
{
    /// <summary>Takes one attempt if fewer than <paramref name="permits"/> were taken in this window; otherwise how long until the next window.</summary>
    Task<TimeSpan?> TryTakeAsync(int permits, TimeSpan window);
}

/// <summary>
/// The count lives in memory: a failover starts it again, which costs at most one window's
/// allowance (the accounts' lockout, stored in the database, still holds). An idle activation is
/// collected by Orleans, so memory is bounded by the origins active in the last minutes.
/// </summary>
public sealed class AttemptWindowGrain(TimeProvider time) : Grain, IAttemptWindowGrain
{
    private DateTimeOffset _windowStart;
    private int _taken;

    public Task<TimeSpan?> TryTakeAsync(int permits, TimeSpan window)
    {
        var now = time.GetUtcNow();
        if (now - _windowStart >= window)
        {
            _windowStart = now;
            _taken = 0;
        }

        if (_taken >= permits)
        {
            return Task.FromResult<TimeSpan?>(_windowStart + window - now);
        }

        _taken++;
        return Task.FromResult<TimeSpan?>(null);
    }
}
