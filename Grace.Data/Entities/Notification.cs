namespace Grace.Data.Entities;

/// <summary>What a notification (or an Alertmanager silence) is about.</summary>
public enum NotificationKind
{
    /// <summary>A tier 2+ mission waits for approvers.</summary>
    ApprovalRequested = 0,
    /// <summary>A tier 1 action ran without approval; people are told.</summary>
    ActionRan = 1,
    MissionFailed = 2,
    MissionRolledBack = 3,
    /// <summary>The approval window passed without enough approvers.</summary>
    MissionExpired = 4,
    /// <summary>Policy refused the action.</summary>
    MissionBlocked = 5,
    /// <summary>Grace has given up on an incident: a person must act.</summary>
    IncidentNeedsHuman = 6,
    KillSwitchChanged = 7,
    /// <summary>Create a silence in Alertmanager for the alert a mission heals.</summary>
    AlertSilence = 8,
    /// <summary>Expire the silence created for a mission, once it has ended.</summary>
    AlertSilenceExpire = 9,
    /// <summary>A playbook whose tier was lowered on its record failed or rolled back: its tier went back up at once.</summary>
    TrustRevoked = 10,
}

/// <summary>Where an outbox row is in its delivery.</summary>
public enum NotificationStatus
{
    /// <summary>Not tried yet.</summary>
    Pending = 0,
    /// <summary>Accepted by the receiver.</summary>
    Delivered = 1,
    /// <summary>Tried and failed; tried again at <see cref="Notification.NextAttemptAt"/>.</summary>
    Failing = 2,
    /// <summary>Failed <c>Grace:Notifications:MaxAttempts</c> times (or can never succeed); an Admin may retry it.</summary>
    GivenUp = 3,
}

/// <summary>Where a person's approval decision came from.</summary>
public enum DecisionVia
{
    /// <summary>The console (its pages or its API with a session cookie).</summary>
    Console = 0,
    /// <summary>A button in a Slack message, verified with Slack's request signing.</summary>
    Slack = 1,
}

/// <summary>
/// A row of the notification outbox: something to tell a channel (or an Alertmanager silence to
/// create or expire), stored in the same unit of work as the transition that causes it, and
/// delivered afterwards with retries. The dedup key is unique: a repeat is not stored twice.
/// </summary>
public class Notification
{
    public const int ChannelMaxLength = 128;
    public const int DedupKeyMaxLength = 256;
    public const int PayloadMaxLength = 16_384;
    public const int LastErrorMaxLength = 2048;
    public const int LeaseOwnerMaxLength = 128;
    public const int ExternalIdMaxLength = 128;

    public Guid Id { get; set; }
    public NotificationKind Kind { get; set; }
    /// <summary>The channel key under <c>Grace:Notifications</c>, or <c>alertmanager</c> for silences.</summary>
    public required string Channel { get; set; }
    public required string DedupKey { get; set; }
    public Guid? MissionId { get; set; }
    public Guid? IncidentId { get; set; }
    /// <summary>What to say, as JSON, written when the row is created (the state of things at the transition).</summary>
    public required string Payload { get; set; }
    public NotificationStatus Status { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }
    /// <summary>The last failure, without secrets (no URLs with tokens, no passwords).</summary>
    public string? LastError { get; set; }
    /// <summary>The instance delivering the row, until when: two instances never send one row at once.</summary>
    public string? LeaseOwner { get; set; }
    public DateTimeOffset? LeaseUntil { get; set; }
    /// <summary>What the receiver answered that later rows need (the Alertmanager silence id).</summary>
    public string? ExternalId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? DeliveredAt { get; set; }
}
