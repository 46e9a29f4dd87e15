using Grace.Engine.Learn;

namespace Grace.Engine.Missions.Steps;

/// <summary>Ended (any terminal state): learned once, covered incidents settled, and the target told it is free.</summary>
public sealed class EndedStep(LearnStage learn) : IMissionStep
{
    public async Task<StepOutcome> RunAsync(MissionStepContext context, CancellationToken cancellationToken)
    {
        var outcome = context.Position.Learned ? StepOutcome.Finished : await learn.LearnAsync(context.MissionId, cancellationToken);
        await context.Target.MissionEndedAsync(context.MissionId);
        return outcome;
    }
}
