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
public sealed class ConsoleActions(CurrentActor current, ApprovalService approvals, KillSwitch killSwitch, PlaybookTiers tiers, ISnackbar snackbar)
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
