namespace Grace.Data;

/// <summary>
/// The finest time every supported database keeps. SQLite stores a <see cref="DateTimeOffset"/> as
/// binary (<c>DateTimeOffsetToBinaryConverter</c>), which keeps whole 0.1 ms; PostgreSQL keeps 1 µs
/// and SQL Server 100 ns. A time compared with a stored one (a stage's start, read back after a
/// restart, against the next stage's start still in memory) must be floored to this first, or two
/// moments 50 µs apart can come back in the wrong order.
/// </summary>
public static class StoredTime
{
    /// <summary>0.1 ms in ticks.</summary>
    public const long Resolution = TimeSpan.TicksPerMillisecond / 10;

    /// <summary><paramref name="time"/> rounded down to what the database will give back.</summary>
    public static DateTimeOffset Floor(DateTimeOffset time) => new(time.Ticks - (time.Ticks % Resolution), time.Offset);
}
