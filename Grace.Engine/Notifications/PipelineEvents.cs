using Grace.Data.Entities;

namespace Grace.Engine.Notifications;

/// <summary>A typed event of the healing pipeline, published in-process, relayed to every instance of a cluster, and sent on the SignalR hub.</summary>
[GenerateSerializer]
public abstract record PipelineEvent(DateTimeOffset At)
{
    /// <summary>The event's name on the hub (the client method).</summary>
    public string Type => GetType().Name;
}

/// <summary>An incident was created, counted, reopened or resolved.</summary>
[GenerateSerializer]
public sealed record IncidentUpdated(DateTimeOffset At, Guid IncidentId, string Fingerprint, string Source, IncidentStatus Status, long Count, bool IsNew)
    : PipelineEvent(At);

/// <summary>A mission moved: a new timeline line, and maybe a new state.</summary>
[GenerateSerializer]
public sealed record MissionUpdated(DateTimeOffset At, Guid MissionId, Guid IncidentId, string PlaybookKey, string Target, int Tier,
    MissionState State, PipelineStage Stage, string Actor, string Message) : PipelineEvent(At);

/// <summary>A tier 2+ mission waits for people.</summary>
[GenerateSerializer]
public sealed record ApprovalRequested(DateTimeOffset At, Guid MissionId, string PlaybookKey, string Target, int Tier, int RequiredCount, DateTimeOffset ExpiresAt)
    : PipelineEvent(At);

/// <summary>Someone approved or rejected, or the approval closed.</summary>
[GenerateSerializer]
public sealed record ApprovalDecided(DateTimeOffset At, Guid MissionId, string UserName, ApprovalVerdict Verdict, ApprovalStatus Status, int Approvals, int RequiredCount)
    : PipelineEvent(At);

/// <summary>Tier 1: the action ran without waiting; people are told.</summary>
[GenerateSerializer]
public sealed record OperatorNotification(DateTimeOffset At, Guid MissionId, string Message) : PipelineEvent(At);

/// <summary>The global kill switch changed.</summary>
[GenerateSerializer]
public sealed record KillSwitchChanged(DateTimeOffset At, bool Engaged, string By, string? Reason) : PipelineEvent(At);

/// <summary>A playbook's statistics changed after an outcome.</summary>
[GenerateSerializer]
public sealed record StatisticsUpdated(DateTimeOffset At, string PatternKey, string PlaybookKey, int Runs, double SuccessRate, double Confidence)
    : PipelineEvent(At);

/// <summary>A line was added to an incident's own timeline (an escalation rung, a person's action, a mission's end).</summary>
[GenerateSerializer]
public sealed record IncidentTimelineUpdated(DateTimeOffset At, Guid IncidentId, IncidentEventKind Kind, string Actor, string Message) : PipelineEvent(At);

/// <summary>
/// An API key was limited or revoked. Each instance caches key checks briefly; this clears every
/// instance's cache at once, so a revocation holds cluster-wide within the relay's delay rather than
/// the cache's 30 s. Not sent to hub clients (it says nothing about the pipeline).
/// </summary>
[GenerateSerializer]
public sealed record ApiKeysChanged(DateTimeOffset At) : PipelineEvent(At);
