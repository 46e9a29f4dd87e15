using Grace.Data;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Grace.Tests.Unit;

public class StoredTimeTests
{
    private static readonly DateTimeOffsetToBinaryConverter Sqlite = new();

    private static DateTimeOffset RoundTrip(DateTimeOffset time) =>
        (DateTimeOffset)Sqlite.ConvertFromProvider((long)Sqlite.ConvertToProvider(time)!)!;

    [Fact]
    public void A_floored_time_comes_back_from_SQLite_unchanged_and_a_raw_one_does_not()
    {
        // 12:00:00.0001234 — 123.4 µs: SQLite's binary form keeps whole 0.1 ms.
        var raw = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(1234);
        Assert.NotEqual(raw, RoundTrip(raw));
        var floored = StoredTime.Floor(raw);
        Assert.Equal(floored, RoundTrip(floored));
        Assert.Equal(RoundTrip(raw), floored);
    }

    [Fact]
    public void Two_moments_4_microseconds_apart_keep_their_order_once_floored()
    {
        // The failure this prevents: a stage started at 201 µs (kept in memory) and the next at 205 µs
        // (read back from SQLite as 200 µs) looked as if the second started first.
        var first = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(2010);
        var second = first.AddTicks(40);
        Assert.True(RoundTrip(second) < first);
        Assert.True(RoundTrip(StoredTime.Floor(second)) >= StoredTime.Floor(first));
    }

    [Fact]
    public void The_offset_is_kept()
    {
        var local = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.FromHours(2)).AddTicks(987_654);
        var floored = StoredTime.Floor(local);
        Assert.Equal(TimeSpan.FromHours(2), floored.Offset);
        Assert.Equal(0, floored.Ticks % StoredTime.Resolution);
        Assert.True(local - floored < TimeSpan.FromTicks(StoredTime.Resolution));
    }
}
