using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Microsoft.Extensions.Options;

namespace Grace.Tests.Unit;

public sealed class SignalIntakeTests
{
    [Fact]
    public void A_full_buffer_drops_and_counts_and_never_blocks_or_throws()
    {
        var intake = new SignalIntake(Options.Create(new EngineOptions { CaptureBufferCapacity = 16 }));
        var signal = new Signal("s", "m", Severity.Error, DateTimeOffset.UtcNow);
        var accepted = Enumerable.Range(0, 20).Count(_ => intake.TryWrite(signal));

        Assert.Equal(16, accepted);
        Assert.Equal(16, intake.Accepted);
        Assert.Equal(4, intake.Dropped);
        Assert.Equal(16, intake.Buffered);
        Assert.False(intake.TryWrite(null!));
        Assert.Equal(5, intake.Dropped);
    }
}
