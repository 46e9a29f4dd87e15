using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Microsoft.EntityFrameworkCore;

namespace Grace.Engine.Missions.Steps;

/// <summary>Awaiting approval: people move it (approve, reject); the step only closes it when the window passes.</summary>
public sealed class AwaitingApprovalStep(IDbContextFactory<GraceDbContext> dbFactory, ApprovalService approvals, TimeProvider time) : IMissionStep
{
    public async Task<StepOutcome> RunAsync(MissionStepContext context, CancellationToken cancellationToken)
    {
        DateTimeOffset? expires;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            expires = await db.Approvals.AsNoTracking()
                .Where(a => a.MissionId == context.MissionId && a.Status == ApprovalStatus.Pending)
                .Select(a => (DateTimeOffset?)a.ExpiresAt)
                .SingleOrDefaultAsync(cancellationToken);
        }

        if (expires is { } at && at > time.GetUtcNow())
        {
            return StepOutcome.WaitUntil(at);
        }

        await approvals.ExpireAsync(context.MissionId, cancellationToken);
        return StepOutcome.Moved;
    }
}
