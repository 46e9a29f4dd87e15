using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Engine.Notifications;
using Microsoft.EntityFrameworkCore;

namespace Grace.Engine.Gate;

/// <summary>
/// The human gate. Rules are enforced here, whatever page or request calls it: Operators and above
/// decide; the requester never approves their own mission; one verdict per person; a rejection
/// needs a reason; an expired approval takes no more decisions. Every decision is audited.
/// </summary>
public sealed class ApprovalService(
    IDbContextFactory<GraceDbContext> dbFactory,
    MissionJournal journal,
    IMissionScheduler scheduler,
    IPipelineNotifier notifier,
    Audit.AuditTrail audit,
    TimeProvider time)
{
    public async Task<ApprovalStatus> DecideAsync(Guid missionId, Actor actor, ApprovalVerdict verdict, string? reason, CancellationToken cancellationToken)
    {
        if (!actor.CanApprove)
        {
            throw new MissionOperationException($"{actor.Name} may not approve or reject: it needs the Operator, Lead or Admin role.", forbidden: true);
        }

        if (verdict == ApprovalVerdict.Reject && string.IsNullOrWhiteSpace(reason))
        {
            throw new MissionOperationException("A rejection needs a reason.", field: "reason");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var mission = await db.Missions.Include(m => m.Approval!).ThenInclude(a => a.Decisions)
            .SingleOrDefaultAsync(m => m.Id == missionId, cancellationToken)
            ?? throw new MissionOperationException($"Mission {missionId} does not exist.", notFound: true);
        var approval = mission.Approval;
        if (approval is null || mission.State != MissionState.AwaitingApproval || approval.Status != ApprovalStatus.Pending)
        {
            throw new MissionOperationException($"Mission {missionId} is not waiting for approval (it is {mission.State}).");
        }

        if (string.Equals(actor.Name, mission.RequestedBy, StringComparison.OrdinalIgnoreCase))
        {
            throw new MissionOperationException($"{actor.Name} requested this mission and may not approve or reject it.", forbidden: true);
        }

        if (approval.Decisions.Any(d => string.Equals(d.UserName, actor.Name, StringComparison.OrdinalIgnoreCase)))
        {
            throw new MissionOperationException($"{actor.Name} has already decided on this mission; tier {mission.Tier} needs distinct approvers.");
        }

        var now = time.GetUtcNow();
        var entry = journal.Begin(db, mission);
        if (now >= approval.ExpiresAt)
        {
            Expire(entry, approval, now);
            await entry.SaveAsync(cancellationToken);
            throw new MissionOperationException($"The approval of mission {missionId} expired at {approval.ExpiresAt:u}.");
        }

        approval.Decisions.Add(new ApprovalDecision { ApprovalId = approval.Id, UserName = actor.Name, Verdict = verdict, Reason = reason, At = now, Via = actor.Via });
        var approvals = approval.Decisions.Count(d => d.Verdict == ApprovalVerdict.Approve);
        // Where the decision came from is part of the record: "by alice via Slack".
        var via = actor.Via == DecisionVia.Console ? "" : $" via {actor.Via}";
        audit.Add(db, actor, verdict == ApprovalVerdict.Approve ? "mission.approve" : "mission.reject",
            $"mission/{missionId}", via.Length == 0 ? reason : $"[{via.Trim()}] {reason}".TrimEnd(), now);

        if (verdict == ApprovalVerdict.Reject)
        {
            approval.Status = ApprovalStatus.Rejected;
            approval.ClosedAt = now;
            entry.Record(PipelineStage.Gate, "rejected", $"Rejected by {actor.Name}{via}: {reason}", MissionState.Rejected, actor: actor.Name);
        }
        else if (approvals >= approval.RequiredCount)
        {
            approval.Status = ApprovalStatus.Approved;
            approval.ClosedAt = now;
            entry.Record(PipelineStage.Gate, "approved",
                $"Approved by {actor.Name}{via} ({approvals} of {approval.RequiredCount})" + (string.IsNullOrWhiteSpace(reason) ? "." : $": {reason}"),
                MissionState.Approved, actor: actor.Name);
        }
        else
        {
            entry.Record(PipelineStage.Gate, "approval",
                $"Approved by {actor.Name}{via} ({approvals} of {approval.RequiredCount}); waiting for another approver." + (string.IsNullOrWhiteSpace(reason) ? "" : $" {reason}"),
                actor: actor.Name);
        }

        try
        {
            await entry.SaveAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            throw new MissionOperationException("Someone else decided on this mission at the same moment; reload and try again.");
        }
        catch (DbUpdateException ex) when (DatabaseErrors.IsUniqueViolation(ex))
        {
            throw new MissionOperationException($"{actor.Name} has already decided on this mission.");
        }

        notifier.Publish(new ApprovalDecided(now, missionId, actor.Name, verdict, approval.Status, approvals, approval.RequiredCount));
        if (approval.Status != ApprovalStatus.Pending)
        {
            scheduler.Enqueue(missionId); // Approved: it acts; rejected: it is learned from.
        }

        return approval.Status;
    }

    /// <summary>Ends a mission whose approval window has passed (its grain calls this when the window closes). Returns whether it expired it.</summary>
    public async Task<bool> ExpireAsync(Guid missionId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var mission = await db.Missions.Include(m => m.Approval!).ThenInclude(a => a.Decisions).SingleOrDefaultAsync(m => m.Id == missionId, cancellationToken);
        if (mission is not { State: MissionState.AwaitingApproval, Approval: { Status: ApprovalStatus.Pending } approval } || approval.ExpiresAt > time.GetUtcNow())
        {
            return false;
        }

        var entry = journal.Begin(db, mission);
        Expire(entry, approval, time.GetUtcNow());
        try
        {
            await entry.SaveAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateConcurrencyException)
        {
            return false; // Someone decided in the same instant; their decision stands.
        }
    }

    private static void Expire(MissionJournal.Entry entry, Approval approval, DateTimeOffset now)
    {
        approval.Status = ApprovalStatus.Expired;
        approval.ClosedAt = now;
        var approvals = approval.Decisions.Count(d => d.Verdict == ApprovalVerdict.Approve);
        entry.Record(PipelineStage.Gate, "expired",
            $"The approval expired at {approval.ExpiresAt:u} with {approvals} of {approval.RequiredCount} approvals; nothing ran.", MissionState.Expired);
        entry.Also(new ApprovalDecided(now, entry.Mission.Id, Actor.EngineName, ApprovalVerdict.Reject, ApprovalStatus.Expired, approvals, approval.RequiredCount));
    }
}

/// <summary>Asks the engine to advance a mission soon.</summary>
public interface IMissionScheduler
{
    void Enqueue(Guid missionId);
}
