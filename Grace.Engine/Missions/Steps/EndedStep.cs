using Grace.Engine.Learn;

namespace Grace.Engine.Missions.Steps;

/// <summary>Ended (any terminal state): learned once, covered incidents settled, and the target told it is free.</summary>
public sealed class EndedStep(LearnStage learn) : IMissionStep
{
    public async Task<StepOutcome> RunAsync(MissionStepContext context, CancellationToken cancellationToken)
    {
        // The target is free as soon as the mission's state is final: the next mission on it need not
        // wait for this one's bookkeeping (a learning conflict retried a second later, say).
        await context.Target.MissionEndedAsync(context.MissionId);
        return context.Position.Learned ? StepOutcome.Finished : await learn.LearnAsync(context.MissionId, cancellationToken);
    }
}
