namespace Grace.Engine.Missions;

/// <summary>What a mission does after one step.</summary>
[GenerateSerializer]
public enum StepNext
{
    /// <summary>It moved: run the step of its new state now.</summary>
    Continue,
    /// <summary>It waits for a moment (an approval's expiry, the next probe reading, a retry).</summary>
    WaitUntil,
    /// <summary>Its target is busy with another mission; the target wakes it when it is free.</summary>
    WaitForTarget,
    /// <summary>It is over and learned from; nothing will move it again.</summary>
    Done,
}

/// <summary>The result of one step of a mission.</summary>
[GenerateSerializer, Immutable]
public readonly record struct StepOutcome(StepNext Next, DateTimeOffset? At = null)
{
    public static StepOutcome Moved { get; } = new(StepNext.Continue);
    public static StepOutcome Finished { get; } = new(StepNext.Done);
    public static StepOutcome TargetBusy { get; } = new(StepNext.WaitForTarget);
    public static StepOutcome WaitUntil(DateTimeOffset at) => new(StepNext.WaitUntil, at);
}

/// <summary>Why a mission grain is asked to look at its mission again.</summary>
[GenerateSerializer]
public enum WakeReason
{
    /// <summary>The periodic sweep: only matters when nothing else keeps the mission moving (after a failover or restart).</summary>
    Sweep,
    /// <summary>Something changed it (planned, approved, rejected): look now.</summary>
    Changed,
    /// <summary>Its target became free.</summary>
    TargetFree,
}
