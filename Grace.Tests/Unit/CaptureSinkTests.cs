using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Serilog;
using Serilog.Events;

namespace Grace.Tests.Unit;

public sealed class CaptureSinkTests
{
    [Fact]
    public void Graces_own_errors_become_signals_with_their_template_and_lower_levels_do_not()
    {
        var intake = new SignalIntake(Options.Create(new EngineOptions { CaptureBufferCapacity = 100 }));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var logger = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(new GraceSerilogSink(intake, time)).CreateLogger();
        var engine = logger.ForContext(Serilog.Core.Constants.SourceContextPropertyName, "Grace.Engine.Missions.MissionRunner");

        engine.Warning("Just a warning {Id}", 1);
        engine.Error(new TimeoutException("probe timed out"), "Advancing mission {MissionId} failed", Guid.NewGuid());
        engine.Fatal("Host is going down");
        // A failure inside capture itself must not feed itself.
        logger.ForContext(Serilog.Core.Constants.SourceContextPropertyName, "Grace.Engine.Capture.CaptureService").Error("Batch lost");

        Assert.Equal(2, intake.Accepted);
        Assert.True(intake.TryTake(out var error));
        Assert.Equal("Advancing mission {MissionId} failed", error.MessageTemplate);
        Assert.Equal("System.TimeoutException", error.ExceptionType);
        Assert.Equal("Grace.Engine.Missions.MissionRunner", error.Source);
        Assert.Equal(Severity.Error, error.Severity);
        Assert.Contains("probe timed out", error.Message);
        Assert.True(intake.TryTake(out var fatal));
        Assert.Equal(Severity.Critical, fatal.Severity);
    }

    [Fact]
    public void The_signal_rate_counts_only_the_window_asked_for()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var rates = new SignalRateTracker(time);
        var incident = Guid.NewGuid();
        rates.Record(incident, 10);
        time.Advance(TimeSpan.FromSeconds(20));
        rates.Record(incident, 5);

        Assert.Equal(15, rates.CountInLast(incident, 30));
        Assert.Equal(5, rates.CountInLast(incident, 10));
        time.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(5, rates.CountInLast(incident, 30));
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(0, rates.CountInLast(incident, 300));
        Assert.Equal(0, rates.CountInLast(Guid.NewGuid(), 30));
    }
}
