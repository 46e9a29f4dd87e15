using ApprovalStatus = Grace.Data.Entities.ApprovalStatus;
using ApprovalVerdict = Grace.Data.Entities.ApprovalVerdict;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using MudBlazor;

namespace Grace.Web.Identity;

/// <summary>
/// What a person does from the console, on behalf of the signed-in actor. The engine's services
/// enforce the rules; this only turns their refusals into messages on the page.
/// </summary>
public sealed class ConsoleActions(CurrentActor current, ApprovalService approvals, KillSwitch killSwitch, PlaybookTiers tiers, Grace.Engine.Escalate.IncidentService incidents,
    MissionDismissals dismissals, ISnackbar snackbar)
{
    public Task<Actor> ActorAsync() => current.GetAsync();

    public Task<bool> ApproveAsync(Guid missionId, string? comment) =>
        RunAsync(async actor =>
        {
            var status = await approvals.DecideAsync(missionId, actor, ApprovalVerdict.Approve, comment, CancellationToken.None);
            return status == ApprovalStatus.Approved ? "Approved: the action runs now." : "Your approval is recorded; another approver is needed.";
        });

    public Task<bool> RejectAsync(Guid missionId, string? reason) =>
        RunAsync(async actor =>
        {
            await approvals.DecideAsync(missionId, actor, ApprovalVerdict.Reject, reason, CancellationToken.None);
            return "Rejected: nothing will run.";
        });

    public Task<bool> SetKillSwitchAsync(bool engaged, string? reason) =>
        RunAsync(async actor =>
        {
            if (string.IsNullOrWhiteSpace(reason))
            {
                throw new MissionOperationException("The kill switch needs a reason.");
            }

            await killSwitch.SetAsync(engaged, actor, reason, CancellationToken.None);
            return engaged ? "Kill switch engaged: no action runs." : "Kill switch released.";
        });

    public Task<bool> SetTierAsync(string playbookKey, int tier, string? reason) =>
        RunAsync(async actor =>
        {
            await tiers.SetAsync(playbookKey, tier, actor, reason, CancellationToken.None);
            return $"Playbook '{playbookKey}' is tier {tier} for new missions.";
        });

    public Task<bool> AcknowledgeAsync(Guid incidentId) =>
        RunAsync(async actor =>
        {
            await incidents.AcknowledgeAsync(incidentId, actor, CancellationToken.None);
            return "Acknowledged: the incident is yours until it is resolved.";
        });

    public Task<bool> AssignAsync(Guid incidentId, string? assignee) =>
        RunAsync(async actor =>
        {
            await incidents.AssignAsync(incidentId, assignee, actor, CancellationToken.None);
            return $"Assigned to {assignee?.Trim()}.";
        });

    public Task<bool> CommentAsync(Guid incidentId, string? text) =>
        RunAsync(async actor =>
        {
            await incidents.CommentAsync(incidentId, text, actor, CancellationToken.None);
            return "Comment added.";
        });

    public Task<bool> ResolveAsync(Guid incidentId, string? reason) =>
        RunAsync(async actor =>
        {
            await incidents.ResolveAsync(incidentId, reason, actor, CancellationToken.None);
            return "Resolved.";
        });

    public Task<bool> DismissAsync(Guid missionId) =>
        RunAsync(async actor =>
        {
            await dismissals.DismissAsync(missionId, actor, CancellationToken.None);
            return "Dismissed: it no longer shows on the Overview (the mission and its timeline stay).";
        });

    /// <summary>Runs a playbook now; returns the new mission's id, or null when it was refused (the snackbar says why).</summary>
    public async Task<Guid?> RunPlaybookAsync(Guid incidentId, string? playbook, bool dryRun)
    {
        Guid? mission = null;
        await RunAsync(async actor =>
        {
            mission = await incidents.RunPlaybookAsync(incidentId, playbook, dryRun, actor, CancellationToken.None);
            return dryRun ? $"Dry run of '{playbook}' planned: it goes through the gate, but its action will not run." : $"'{playbook}' planned: it goes through the gate and its tier.";
        });
        return mission;
    }

    private async Task<bool> RunAsync(Func<Actor, Task<string>> action)
    {
        try
        {
            var message = await action(await current.GetAsync());
            snackbar.Add(message, Severity.Success);
            return true;
        }
        catch (MissionOperationException ex)
        {
            snackbar.Add(ex.Message, ex.Forbidden ? Severity.Warning : Severity.Error);
            return false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A database hiccup must not end the operator's circuit in the middle of an incident.
            snackbar.Add($"That did not go through: {ex.Message}. Nothing was changed; try again.", Severity.Error);
            return false;
        }
    }
}
