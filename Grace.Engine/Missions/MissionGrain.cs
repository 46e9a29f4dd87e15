using Grace.Data;
using Grace.Engine.Cluster;
using Grace.Engine.Configuration;
using Grace.Engine.Missions.Steps;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Missions;

/// <summary>
/// One mission, once in the whole cluster. It moves the mission state by state (one step class per
/// state, <see cref="MissionTransitions"/>); whenever the mission must wait (for approvers, the next
/// probe reading, a busy target, a retry) it sets a timer and holds no thread meanwhile. The
/// database stays the truth: every step reads the mission afresh, so a new activation after a
/// failover continues where the last one stopped.
/// </summary>
public interface IMissionGrain : IGrainWithGuidKey
{
    /// <summary>Asks the mission to look at itself. A sweep only matters when nothing else keeps it moving.</summary>
    [AlwaysInterleave, OneWay]
    Task WakeAsync(WakeReason reason);
}

[GrainType(GraceGrainTypes.Mission)]
public sealed class MissionGrain(
    IDbContextFactory<GraceDbContext> dbFactory,
    MissionTransitions transitions,
    MissionStallNotice stallNotice,
    IOptionsMonitor<EngineOptions> options,
    TimeProvider time,
    ILogger<MissionGrain> logger) : Grain, IMissionGrain
{
    private const int StepsPerTurn = 32;
    private readonly VerificationProgress _progress = new();
    private IGrainTimer? _timer;
    private bool _advancing;
    private bool _lookAgain;
    private int _failures;

    public Task WakeAsync(WakeReason reason)
    {
        if (_advancing)
        {
            // A change while a step runs (an approval during a probe reading) is looked at right after it.
            _lookAgain |= reason != WakeReason.Sweep;
            return Task.CompletedTask;
        }

        if (reason == WakeReason.Sweep && _timer is not null)
        {
            return Task.CompletedTask; // Already waiting on its own timer.
        }

        ScheduleIn(TimeSpan.Zero);
        return Task.CompletedTask;
    }

    private async Task AdvanceAsync(CancellationToken timerToken)
    {
        // The firing timer's token ends when the timer is disposed (as the next schedule does): the
        // steps run to completion on their own terms instead.
        var cancellationToken = CancellationToken.None;
        var fired = _timer;
        _timer = null;
        _advancing = true;
        try
        {
            for (var step = 0; step < StepsPerTurn; step++)
            {
                MissionPosition? position;
                await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
                {
                    position = await MissionStore.PositionAsync(db, this.GetPrimaryKey(), cancellationToken);
                }

                if (position is null)
                {
                    this.DeactivateOnIdle();
                    return;
                }

                var context = new MissionStepContext(this.GetPrimaryKey(), position, GrainFactory, _progress);
                var outcome = await transitions.StepFor(position.State).RunAsync(context, cancellationToken);
                if (_failures >= MissionStallNotice.AfterFailures)
                {
                    await stallNotice.MovedAgainAsync(this.GetPrimaryKey());
                }

                _failures = 0;
                switch (outcome.Next)
                {
                    case StepNext.Continue:
                        continue;
                    case StepNext.WaitUntil:
                        ScheduleIn(outcome.At!.Value - time.GetUtcNow());
                        return;
                    case StepNext.WaitForTarget:
                        // The target wakes it when it is free; this timer only covers a target activation lost meanwhile.
                        ScheduleIn(TimeSpan.FromSeconds(options.CurrentValue.SweepIntervalSeconds));
                        return;
                    default:
                        this.DeactivateOnIdle();
                        return;
                }
            }

            ScheduleIn(TimeSpan.Zero); // Let other calls in before going on.
        }
        catch (Exception ex)
        {
            // The database away, a target's instance gone: try again, backing off, never giving up on the mission.
            _failures++;
            var delay = TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Min(_failures, 5)) / 2));
            logger.LogWarning(ex, "Mission {MissionId} could not move ({Failures} time(s) in a row); trying again in {Delay} s", this.GetPrimaryKey(), _failures, delay.TotalSeconds);
            if (_failures == MissionStallNotice.AfterFailures || _failures % 20 == 0)
            {
                // A lasting cause must not leave the mission sitting in its state with nothing said.
                await stallNotice.StalledAsync(this.GetPrimaryKey(), _failures, ex, delay);
            }

            ScheduleIn(delay);
        }
        finally
        {
            fired?.Dispose();
            _advancing = false;
            if (_lookAgain)
            {
                _lookAgain = false;
                ScheduleIn(TimeSpan.Zero);
            }
        }
    }

    private void ScheduleIn(TimeSpan due)
    {
        _timer?.Dispose();
        _timer = this.RegisterGrainTimer(AdvanceAsync, new GrainTimerCreationOptions(due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan) { KeepAlive = true });
    }
}
