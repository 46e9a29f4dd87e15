namespace Grace.Data.Entities;


/// <summary>
/// One row per target, changed by every intent to act on it. Two activations that both passed the
/// gate for one target (Orleans may briefly allow a duplicate during membership changes) cannot both
/// commit an intent: the second save fails on this row's version, and nothing runs.
/// </summary>
public class TargetFence : IVersioned
{
    public required string Target { get; set; }
    public Guid? LastMissionId { get; set; }
    public DateTimeOffset? LastIntentAt { get; set; }
    public Guid Version { get; set; }
}

/// <summary>
/// One Grace instance (an Orleans silo) in the membership table of a cluster. Kept in Grace's own
/// database so that a cluster needs nothing beyond the database it already uses (ADR 0009).
/// </summary>
public class ClusterMember
{
    public required string ClusterId { get; set; }
    /// <summary>The silo's address, generation included (a restarted instance is a new row).</summary>
    public required string Address { get; set; }
    public required string SiloName { get; set; }
    public string? HostName { get; set; }
    /// <summary>Orleans' silo status (Joining, Active, ShuttingDown, Dead...), as its number.</summary>
    public int Status { get; set; }
    /// <summary>Changes on every write of the row except the heartbeat: Orleans' optimistic check.</summary>
    public required string Etag { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset IAmAliveAt { get; set; }
    /// <summary>The whole membership entry (suspicions included), JSON.</summary>
    public required string Entry { get; set; }
}

/// <summary>The membership table's version row: every membership change moves it, checked optimistically.</summary>
public class ClusterVersion
{
    public required string ClusterId { get; set; }
    public int Version { get; set; }
    public required string Etag { get; set; }
}
