using Grace.Engine.Cluster;
using Microsoft.Extensions.Time.Testing;

namespace Grace.Tests.Unit;

public sealed class AttemptWindowTests
{
    [Fact]
    public async Task A_window_allows_its_permits_then_says_how_long_until_the_next_one()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-30T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var window = new AttemptWindowGrain(time);
        var minute = TimeSpan.FromMinutes(1);

        for (var i = 0; i < 3; i++)
        {
            Assert.Null(await window.TryTakeAsync(3, minute));
        }

        time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(TimeSpan.FromSeconds(40), await window.TryTakeAsync(3, minute));
        time.Advance(TimeSpan.FromSeconds(39));
        Assert.Equal(TimeSpan.FromSeconds(1), await window.TryTakeAsync(3, minute));

        time.Advance(TimeSpan.FromSeconds(1)); // A new window: three more.
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(await window.TryTakeAsync(3, minute));
        }

        Assert.NotNull(await window.TryTakeAsync(3, minute));
    }
}
