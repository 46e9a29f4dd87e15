namespace Grace.Data.Entities;

/// <summary>The measurable effect a mission promises, written before anything runs.</summary>
public class ActionContract
{
    public Guid Id { get; set; }
    public Guid MissionId { get; set; }
    public required string Probe { get; set; }
    public required string Target { get; set; }
    /// <summary>Probe parameters (JSON).</summary>
    public string? ProbeParameters { get; set; }
    public Comparator Comparator { get; set; }
    public double Threshold { get; set; }
    public required string Description { get; set; }
    /// <summary>How long after execution the effect must show.</summary>
    public int DeadlineSeconds { get; set; }
    public DateTimeOffset? Deadline { get; set; }
    /// <summary>Probe reading before the action.</summary>
    public double? BaselineValue { get; set; }
    /// <summary>Last probe reading during verification.</summary>
    public double? ObservedValue { get; set; }
    public ContractVerdict Verdict { get; set; }
    public DateTimeOffset? VerifiedAt { get; set; }
}
