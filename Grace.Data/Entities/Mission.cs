namespace Grace.Data.Entities;

/// <summary>One attempt to heal an incident with one playbook on one target.</summary>
public class Mission : IVersioned
{
    public Guid Id { get; set; }
    public Guid IncidentId { get; set; }
    public Incident? Incident { get; set; }
    public required string PatternKey { get; set; }
    public required string PlaybookKey { get; set; }
    public required string Action { get; set; }
    public required string Target { get; set; }
    /// <summary>The playbook's action parameters as configured when the mission was planned (JSON).</summary>
    public required string Parameters { get; set; }
    public int Tier { get; set; }
    public bool DryRun { get; set; }
    public MissionState State { get; set; }
    public PipelineStage Stage { get; set; }
    public required string RequestedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ExecutedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    public string? StatusReason { get; set; }
    /// <summary>
    /// The Grace instance that last moved the mission (its Orleans silo name): evidence for people,
    /// not a lock. One activation per mission in the cluster does the work; see ADR 0009.
    /// </summary>
    public string? Instance { get; set; }
    public Guid Version { get; set; }

    public ActionContract? Contract { get; set; }
    public Approval? Approval { get; set; }
    public List<MissionEvent> Events { get; set; } = [];
    public List<Snapshot> Snapshots { get; set; } = [];
}
