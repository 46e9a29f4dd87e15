using Grace.Engine.Targets;

namespace Grace.Engine.Missions.Steps;

/// <summary>Moves a mission out of one state (see <see cref="MissionTransitions"/>).</summary>
public interface IMissionStep
{
    Task<StepOutcome> RunAsync(MissionStepContext context, CancellationToken cancellationToken);
}

/// <summary>The mission a step works on, and what its grain keeps between steps.</summary>
public sealed record MissionStepContext(Guid MissionId, MissionPosition Position, IGrainFactory Grains, VerificationProgress Progress)
{
    /// <summary>The grain of the target the mission acts on: where its policy, action and verdict run.</summary>
    public ITargetGrain Target => Grains.GetGrain<ITargetGrain>(Position.Target);
}

/// <summary>What the verifying step remembers between readings, so the timeline gets evidence, not a log line per second.</summary>
public sealed class VerificationProgress
{
    public double? LastLogged { get; set; }
    public DateTimeOffset LastLoggedAt { get; set; } = DateTimeOffset.MinValue;
}
