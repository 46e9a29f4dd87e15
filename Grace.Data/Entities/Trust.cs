namespace Grace.Data.Entities;

/// <summary>What the contract's probe said at planning time, before anything ran.</summary>
public enum ContractPrecheck
{
    /// <summary>Not read (a mission planned before this check existed, or the probe could not be read).</summary>
    Unknown = 0,
    /// <summary>The contract did not hold yet: an action that makes it hold proves something.</summary>
    NotHolding = 1,
    /// <summary>
    /// The contract already held before any action: success would prove nothing (vacuous). Such a
    /// mission never acts, and learning never counts it as a success of the playbook.
    /// </summary>
    AlreadyHeld = 2,
    /// <summary>It held at planning, Grace waited (<c>Grace:Autonomy:VacuousContract</c> = Wait), and it stopped holding before the action.</summary>
    StoppedHolding = 3,
}

/// <summary>
/// For a mission recorded in shadow (<see cref="MissionState.ShadowRecorded"/>): what people did
/// afterwards on the same incident, compared with what Grace would have done.
/// </summary>
public enum ShadowVerdict
{
    /// <summary>Not a shadow mission.</summary>
    None = 0,
    /// <summary>Recorded; nobody has acted on the incident yet.</summary>
    Pending = 1,
    /// <summary>People ran (or approved) the same playbook.</summary>
    Agreed = 2,
    /// <summary>People ran (or approved) another playbook, or rejected this one.</summary>
    Disagreed = 3,
    /// <summary>The incident resolved (a resolving signal or a passing health check) with no action at all: the action would have been unnecessary.</summary>
    HealedWithoutAction = 4,
    /// <summary>It ended in a way that says nothing about the playbook (resolved by hand, or by an automatic mission of another playbook).</summary>
    NoVerdict = 5,
}

/// <summary>Where a tier suggestion is.</summary>
public enum TierSuggestionStatus
{
    /// <summary>Waiting for a Lead or Admin.</summary>
    Open = 0,
    /// <summary>A Lead or Admin accepted it: the playbook's tier was lowered.</summary>
    Accepted = 1,
    /// <summary>A Lead or Admin declined it: the tier stays.</summary>
    Declined = 2,
    /// <summary>The record stopped clearing the bar (a failure, a rollback) before anyone decided.</summary>
    Withdrawn = 3,
    /// <summary>Accepted, then a failure or rollback raised the tier back at once (trust decay).</summary>
    Revoked = 4,
}

/// <summary>
/// A suggestion to lower one playbook's tier, with the evidence it was made on. Grace never lowers a
/// tier by itself: a Lead or Admin accepts or declines. An accepted suggestion is also the record
/// that the tier was earned, so that a later failure raises it back (<see cref="TierSuggestionStatus.Revoked"/>).
/// </summary>
public class TierSuggestion : IVersioned
{
    public Guid Id { get; set; }
    public required string PlaybookKey { get; set; }
    /// <summary>The tier in force when the suggestion was made (where a revocation returns to).</summary>
    public int FromTier { get; set; }
    public int ToTier { get; set; }
    /// <summary>Evidence: runs counted (real runs and judged shadow recordings).</summary>
    public int Runs { get; set; }
    public int Successes { get; set; }
    /// <summary>Of <see cref="Runs"/>, shadow recordings people agreed with.</summary>
    public int ShadowAgreements { get; set; }
    /// <summary>Wilson lower bound (95 %) of the success rate over <see cref="Runs"/>.</summary>
    public double LowerBound { get; set; }
    /// <summary>Runs since the last rollback or failure (all of them when there was none).</summary>
    public int RunsSinceRollback { get; set; }
    public DateTimeOffset? LastRollbackAt { get; set; }
    public TierSuggestionStatus Status { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string? DecidedBy { get; set; }
    public DateTimeOffset? DecidedAt { get; set; }
    public string? Reason { get; set; }
    /// <summary>For a revoked suggestion: the mission whose failure or rollback raised the tier back.</summary>
    public Guid? RevokedByMissionId { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    public Guid Version { get; set; }
}
