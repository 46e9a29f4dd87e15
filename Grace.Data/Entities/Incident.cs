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
}
