namespace Grace.Data.Entities;

/// <summary>All signals that share one fingerprint. Repeats update the counters, never add rows.</summary>
public class Incident
{
    public Guid Id { get; set; }
    public required string Fingerprint { get; set; }
    public required string Source { get; set; }
    public string? ExceptionType { get; set; }
    /// <summary>The message template or normalised message the fingerprint was computed from.</summary>
    public required string Template { get; set; }
    /// <summary>The latest concrete message, as evidence for humans.</summary>
    public required string SampleMessage { get; set; }
    public Severity Severity { get; set; }
    public IncidentStatus Status { get; set; }
    public string? PatternKey { get; set; }
    public string? Target { get; set; }
    /// <summary>Labels of the first signal, JSON.</summary>
    public string? Labels { get; set; }
    public DateTimeOffset FirstSeenAt { get; set; }
    public DateTimeOffset LastSeenAt { get; set; }
    public DateTimeOffset? ResolvedAt { get; set; }
    public long Count { get; set; }
    public int Reopened { get; set; }
    /// <summary>
    /// Set in the same transaction that creates or reopens the incident, cleared once it has been
    /// diagnosed and planned (or held back): an incident stored just before a crash is planned after
    /// the restart instead of being stranded.
    /// </summary>
    public bool PlanPending { get; set; }
    /// <summary>Who reported the signal that opened (or reopened) it: the requester of the mission it starts.</summary>
    public string? OpenedBy { get; set; }
    /// <summary>Mission starts storm control refused for this incident (it fired again too often within the hour).</summary>
    public int HeldBackStarts { get; set; }
    /// <summary>When the current episode began: the first signal of a new incident, or the one that reopened it. Time to recover is measured from here.</summary>
    public DateTimeOffset OpenedAt { get; set; }
    /// <summary>The escalation ladder's last rung: Grace gave up healing it on its own; people own it until it is resolved.</summary>
    public bool NeedsHuman { get; set; }
    public DateTimeOffset? NeedsHumanAt { get; set; }
    public string? NeedsHumanReason { get; set; }
    /// <summary>The playbook the next planning uses (an escalation rung), instead of the best-ranked one.</summary>
    public string? NextPlaybookKey { get; set; }
    /// <summary>When the next escalation rung is due (a retry after the cooldown); the sweep plans it then.</summary>
    public DateTimeOffset? RetryAt { get; set; }
    /// <summary>The next rung waits for the incident to fire again (it went quiet); capture resumes it.</summary>
    public bool AwaitingRecurrence { get; set; }
    public string? AcknowledgedBy { get; set; }
    public DateTimeOffset? AcknowledgedAt { get; set; }
    /// <summary>The person who owns it (a user name).</summary>
    public string? AssignedTo { get; set; }
}

/// <summary>An append-only line of an incident's own timeline: escalation rungs, missions, what people did.</summary>
public class IncidentEvent
{
    public const int MessageMaxLength = 4096;
    public const int ActorMaxLength = 256;

    public long Id { get; set; }
    public Guid IncidentId { get; set; }
    public DateTimeOffset At { get; set; }
    public IncidentEventKind Kind { get; set; }
    /// <summary>"engine" or the user name of the person who acted.</summary>
    public required string Actor { get; set; }
    public required string Message { get; set; }
    /// <summary>The mission this line is about, if any.</summary>
    public Guid? MissionId { get; set; }
    public string? PlaybookKey { get; set; }
}
