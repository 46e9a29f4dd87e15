namespace Grace.Data.Entities;

/// <summary>The human gate of a tier 2+ mission. Durable, so it survives restarts.</summary>
public class Approval : IVersioned
{
    public Guid Id { get; set; }
    public Guid MissionId { get; set; }
    public int RequiredCount { get; set; }
    public required string RequestedBy { get; set; }
    public DateTimeOffset RequestedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public ApprovalStatus Status { get; set; }
    public DateTimeOffset? ClosedAt { get; set; }
    public Guid Version { get; set; }
    public List<ApprovalDecision> Decisions { get; set; } = [];
}

/// <summary>One person's verdict on an approval.</summary>
public class ApprovalDecision
{
    public Guid Id { get; set; }
    public Guid ApprovalId { get; set; }
    public required string UserName { get; set; }
    public ApprovalVerdict Verdict { get; set; }
    public string? Reason { get; set; }
    public DateTimeOffset At { get; set; }
    /// <summary>Where the decision was made (the console, or a Slack button).</summary>
    public DecisionVia Via { get; set; }
}
