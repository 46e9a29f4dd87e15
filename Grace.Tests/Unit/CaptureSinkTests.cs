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
    public void Orleans_failing_to_address_a_message_to_an_instance_that_died_is_no_incident_but_its_other_errors_are()
    {
        var intake = new SignalIntake(Options.Create(new EngineOptions { CaptureBufferCapacity = 100 }));
        using var logger = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(new GraceSerilogSink(intake, TimeProvider.System)).CreateLogger();
        var messaging = logger.ForContext(Serilog.Core.Constants.SourceContextPropertyName, "Orleans.Messaging");
        var planner = logger.ForContext(Serilog.Core.Constants.SourceContextPropertyName, "Grace.Engine.Plan.Planner");

        // The two lines a survivor logged after each kill in the chaos runs: the dead instance's grain
        // cannot be placed anywhere else, and its connection fails before it is declared dead.
        messaging.Error(new Grace.Engine.Cluster.InstanceUnavailableException("Instance 'grace-3' is not in the cluster now"), "Failed to address message {Message}", "OneWay IInstanceGrain.DeliverAsync");
        messaging.Error(new InvalidOperationException("Unable to connect to S127.0.0.1:33715"), "Failed to address message {Message}", "OneWay IInstanceGrain.DeliverAsync");
        // A caller that gets the placement failure and logs it at Error is a duplicate too.
        planner.Error(new InvalidOperationException("wrapped", new Grace.Engine.Cluster.InstanceUnavailableException("gone")), "Planning failed");
        // Other Orleans errors still count.
        messaging.Error(new TimeoutException("placement timed out"), "Message {Message} could not be delivered", "Request");

        Assert.Equal(1, intake.Accepted);
        Assert.True(intake.TryTake(out var signal));
        Assert.Equal("System.TimeoutException", signal.ExceptionType);
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
