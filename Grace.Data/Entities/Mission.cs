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
    /// <summary>Why it exists: a signal, an escalation rung, or a person's "run now".</summary>
    public MissionOrigin Origin { get; set; }
    /// <summary>For a runbook: the step the mission is on (0-based). <see cref="Action"/>, <see cref="Target"/>, <see cref="Parameters"/> and the contract are that step's.</summary>
    public int StepIndex { get; set; }
    /// <summary>For a runbook: how many steps it has; 0 for a playbook of one action.</summary>
    public int StepCount { get; set; }
    /// <summary>What the contract's probe said when the mission was planned: a contract that already held makes success prove nothing.</summary>
    public ContractPrecheck ContractAtPlan { get; set; }
    /// <summary>Shadow mode: the mission plans, gates and snapshots, and records what it would have done instead of acting.</summary>
    public bool Shadow { get; set; }
    /// <summary>For a shadow mission: whether people, acting later on the same incident, agreed with it.</summary>
    public ShadowVerdict ShadowVerdict { get; set; }
    public DateTimeOffset? ShadowVerdictAt { get; set; }
    /// <summary>
    /// When a person took a finished mission in trouble off the Overview ("seen, dealt with"); the
    /// mission itself is unchanged and stays in the Missions list and its incident's history.
    /// </summary>
    public DateTimeOffset? DismissedAt { get; set; }
    /// <summary>Who dismissed it (see <see cref="DismissedAt"/>).</summary>
    public string? DismissedBy { get; set; }

    /// <summary>
    /// The W3C trace context (<c>traceparent</c>) of the mission's trace: its stages run in different
    /// grain calls, on any instance, after restarts; each stage's span is a child of this context.
    /// </summary>
    public string? TraceParent { get; set; }
    /// <summary>When the mission entered its current <see cref="Stage"/>: the start of that stage's span.</summary>
    public DateTimeOffset? StageStartedAt { get; set; }
    public ActionContract? Contract { get; set; }
    public Approval? Approval { get; set; }
    public List<MissionEvent> Events { get; set; } = [];
    public List<Snapshot> Snapshots { get; set; } = [];
    public List<MissionStep> Steps { get; set; } = [];
}

/// <summary>One step of a runbook mission: an action on a target with its own contract, as configured when the mission was planned.</summary>
public class MissionStep
{
    public Guid Id { get; set; }
    public Guid MissionId { get; set; }
    public int Index { get; set; }
    public required string Name { get; set; }
    public required string Action { get; set; }
    public required string Target { get; set; }
    /// <summary>The step's action parameters (JSON).</summary>
    public required string Parameters { get; set; }
    public required string Probe { get; set; }
    public required string ProbeTarget { get; set; }
    public string? ProbeParameters { get; set; }
    public Comparator Comparator { get; set; }
    public double Threshold { get; set; }
    public int DeadlineSeconds { get; set; }
    public RunbookStepState State { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
    public double? ObservedValue { get; set; }
    public string? Message { get; set; }
}
