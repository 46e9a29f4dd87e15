using Grace.Data.Entities;
using Grace.Engine.Formatting;

namespace Grace.Web.Components.Pages.Missions;

/// <summary>
/// What the mission page shows, and only that: the page keeps this between renders instead of the mission's
/// entity graph (snapshot states, step and probe parameters, incident columns it never shows), and pretty-prints
/// each event's evidence once per load instead of once per render. Each open page holds one per circuit.
/// </summary>
internal sealed record MissionDetailView(
    string PlaybookKey, string Target, MissionState State, int Tier, Guid IncidentId, string? IncidentSource, string? IncidentSample,
    long IncidentCount, string PatternKey, string RequestedBy, MissionOrigin Origin, string? StatusReason, int StepIndex,
    MissionDetailView.ContractView? Contract, MissionDetailView.ApprovalView? Approval, IReadOnlyList<MissionDetailView.SnapshotView> Snapshots,
    IReadOnlyList<MissionDetailView.StepView> Steps, IReadOnlyList<MissionDetailView.EventView> Events)
{
    public static MissionDetailView From(Mission m, Func<ActionContract, string> unitOf) => new(
        m.PlaybookKey, m.Target, m.State, m.Tier, m.IncidentId, m.Incident?.Source, m.Incident?.SampleMessage, m.Incident?.Count ?? 0,
        m.PatternKey, m.RequestedBy, m.Origin, m.StatusReason, m.StepIndex,
        m.Contract is { } c ? new ContractView(c.Description, c.Comparator, c.Threshold, unitOf(c), c.BaselineValue, c.ObservedValue, c.Deadline, c.DeadlineSeconds, c.Verdict) : null,
        m.Approval is { } a ? new ApprovalView(a.Status, a.Decisions.Count(d => d.Verdict == ApprovalVerdict.Approve), a.RequiredCount, a.RequestedBy, a.ExpiresAt,
            [.. a.Decisions.OrderBy(d => d.At).Select(d => new DecisionView(d.Verdict, d.UserName, d.Via, d.At, d.Reason))]) : null,
        [.. m.Snapshots.OrderBy(s => s.TakenAt).Select(s => new SnapshotView(s.TakenAt, s.Purpose, s.Summary, s.RestoredAt))],
        [.. m.Steps.OrderBy(s => s.Index).Select(s => new StepView(s.Index, s.Name, s.Action, s.Target, s.State))],
        [.. m.Events.Select(e => new EventView(e.Kind, e.At, e.Stage, e.Actor, e.Message, e.Data is null ? null : HumanFormat.PrettyJson(e.Data)))]);

    public sealed record ContractView(string Description, Comparator Comparator, double Threshold, string Unit, double? BaselineValue, double? ObservedValue,
        DateTimeOffset? Deadline, int DeadlineSeconds, ContractVerdict Verdict);

    public sealed record ApprovalView(ApprovalStatus Status, int Approvals, int RequiredCount, string RequestedBy, DateTimeOffset ExpiresAt, IReadOnlyList<DecisionView> Decisions);

    public sealed record DecisionView(ApprovalVerdict Verdict, string UserName, DecisionVia Via, DateTimeOffset At, string? Reason);

    public sealed record SnapshotView(DateTimeOffset TakenAt, string Purpose, string Summary, DateTimeOffset? RestoredAt);

    public sealed record StepView(int Index, string Name, string Action, string Target, RunbookStepState State);

    public sealed record EventView(string Kind, DateTimeOffset At, PipelineStage Stage, string Actor, string Message, string? Data);
}
