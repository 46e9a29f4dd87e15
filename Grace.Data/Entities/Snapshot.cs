namespace Grace.Data.Entities;

/// <summary>The safe-hold state an executor needs to undo its action.</summary>
public class Snapshot
{
    public Guid Id { get; set; }
    public Guid MissionId { get; set; }
    public required string Executor { get; set; }
    public required string Target { get; set; }
    /// <summary>"approval" when taken for the approvers, "pre-execution" right before acting.</summary>
    public required string Purpose { get; set; }
    public required string State { get; set; }
    public required string Summary { get; set; }
    public DateTimeOffset TakenAt { get; set; }
    public DateTimeOffset? RestoredAt { get; set; }
    /// <summary>For a runbook: the step it was taken for.</summary>
    public int? StepIndex { get; set; }
}
