using System.ComponentModel.DataAnnotations;

namespace Grace.Engine.Configuration;

/// <summary>Engine policy (<c>Grace:Engine</c>): the guard rails that apply before any action.</summary>
public sealed class EngineOptions
{
    public const string Section = "Grace:Engine";

    /// <summary>Initial kill switch state when none was ever persisted. Once set in the console, the database wins.</summary>
    public bool KillSwitch { get; set; }

    /// <summary>Run every mission up to the action, and stop there.</summary>
    public bool DryRun { get; set; }

    /// <summary>How long a tier 2+ approval stays open.</summary>
    [Range(1, 24 * 60, ErrorMessage = "Grace:Engine:ApprovalTimeoutMinutes must be between {1} and {2}.")]
    public int ApprovalTimeoutMinutes { get; set; } = 30;

    /// <summary>Cap on actions executed in any rolling hour, over all playbooks.</summary>
    [Range(1, 10_000, ErrorMessage = "Grace:Engine:MaxRunsPerHour must be between {1} and {2}.")]
    public int MaxRunsPerHour { get; set; } = 30;

    /// <summary>Missions advanced at the same time by this instance.</summary>
    [Range(1, 64, ErrorMessage = "Grace:Engine:MaxConcurrentMissions must be between {1} and {2}.")]
    public int MaxConcurrentMissions { get; set; } = 4;

    /// <summary>Missions per target in flight at once (approved, executing or verifying).</summary>
    [Range(1, 64, ErrorMessage = "Grace:Engine:MaxConcurrentMissionsPerTarget must be between {1} and {2}.")]
    public int MaxConcurrentMissionsPerTarget { get; set; } = 1;

    /// <summary>Default cooldown between two runs of one playbook on one target.</summary>
    [Range(0, 7 * 24 * 3600, ErrorMessage = "Grace:Engine:DefaultCooldownSeconds must be between {1} and {2}.")]
    public int DefaultCooldownSeconds { get; set; } = 300;

    /// <summary>How often a contract probe is read while verifying.</summary>
    [Range(50, 60_000, ErrorMessage = "Grace:Engine:VerifyPollIntervalMilliseconds must be between {1} and {2}.")]
    public int VerifyPollIntervalMilliseconds { get; set; } = 1000;

    /// <summary>How often expired approvals are closed and interrupted missions resumed.</summary>
    [Range(0.05, 3600, ErrorMessage = "Grace:Engine:SweepIntervalSeconds must be between {1} and {2}.")]
    public double SweepIntervalSeconds { get; set; } = 5;

    /// <summary>How long a mission lease lasts; a crashed instance's missions are taken over after it.</summary>
    [Range(5, 3600, ErrorMessage = "Grace:Engine:LeaseSeconds must be between {1} and {2}.")]
    public int LeaseSeconds { get; set; } = 120;

    /// <summary>In-process capture buffer; beyond it signals are dropped and counted, never blocking the caller.</summary>
    [Range(16, 10_000_000, ErrorMessage = "Grace:Engine:CaptureBufferCapacity must be between {1} and {2}.")]
    public int CaptureBufferCapacity { get; set; } = 100_000;

    /// <summary>Signals written to the database per batch.</summary>
    [Range(1, 100_000, ErrorMessage = "Grace:Engine:CaptureBatchSize must be between {1} and {2}.")]
    public int CaptureBatchSize { get; set; } = 1000;

    /// <summary>
    /// Incidents counted into per capture transaction: a batch touching more is committed in several.
    /// A mission write waits for at most the one capture transaction that holds SQLite's writer (ADR 0036),
    /// so this bounds that wait; a batch of 20,000 distinct fingerprints no longer holds the writer for 100 ms.
    /// </summary>
    [Range(1, 100_000, ErrorMessage = "Grace:Engine:CaptureIncidentsPerCommit must be between {1} and {2}.")]
    public int CaptureIncidentsPerCommit { get; set; } = 64;

    /// <summary>
    /// On SQLite, when capture's commits reach the disk: flushed once per batch after SQLite's writer was given back
    /// (<c>OncePerBatch</c>, the default), each commit flushed while it holds the writer (<c>EveryBatch</c>), or
    /// with the next flushed commit or checkpoint (<c>WithNextCommit</c>: survives kill -9 of Grace, not a power
    /// loss in between; see <see cref="Grace.Data.SqliteDurability"/>). Other providers flush as their server does.
    /// </summary>
    public CaptureFlush CaptureFlush { get; set; } = CaptureFlush.OncePerBatch;

    /// <summary>An open incident silent for longer than this that fires again counts as a recurrence and may start a mission.</summary>
    [Range(1, 7 * 24 * 60, ErrorMessage = "Grace:Engine:DedupWindowMinutes must be between {1} and {2}.")]
    public int DedupWindowMinutes { get; set; } = 60;

    /// <summary>Storm control: missions one fingerprint may start in any rolling hour.</summary>
    [Range(1, 1000, ErrorMessage = "Grace:Engine:MaxMissionStartsPerFingerprintPerHour must be between {1} and {2}.")]
    public int MaxMissionStartsPerFingerprintPerHour { get; set; } = 3;

    /// <summary>Storm control: missions all fingerprints together may start in any rolling minute.</summary>
    [Range(1, 100_000, ErrorMessage = "Grace:Engine:MaxMissionStartsPerMinute must be between {1} and {2}.")]
    public int MaxMissionStartsPerMinute { get; set; } = 60;

    /// <summary>Only these folders (and what is under them) may be cleared by the cache executor.</summary>
    public List<string> CacheRoots { get; set; } = [];

    /// <summary>Where cleared cache files wait until the contract holds, so a rollback can restore them.</summary>
    [Required(ErrorMessage = "Grace:Engine:QuarantineDirectory is required.")]
    public string QuarantineDirectory { get; set; } = "data/quarantine";

    /// <summary>Timeout of one executor call (the Polly pipeline's outer timeout).</summary>
    [Range(1, 3600, ErrorMessage = "Grace:Engine:ActionTimeoutSeconds must be between {1} and {2}.")]
    public int ActionTimeoutSeconds { get; set; } = 60;

    /// <summary>The escalation ladder of patterns that do not set their own (<c>Grace:Patterns:&lt;key&gt;:Escalation</c>).</summary>
    public EscalationOptions Escalation { get; set; } = new();
}

/// <summary>When a capture batch on SQLite reaches the disk (Grace:Engine:CaptureFlush).</summary>
public enum CaptureFlush
{
    /// <summary>
    /// Each of a batch's commits is flushed to disk while it holds SQLite's one writer, before the batch's signals are
    /// answered as stored (the behaviour before ADR 0039).
    /// </summary>
    EveryBatch,
    /// <summary>A batch is in the write-ahead log when answered (survives kill -9) and is flushed with the next flushed commit or checkpoint.</summary>
    WithNextCommit,
    /// <summary>
    /// The default (ADR 0039). A batch's commits go to the write-ahead log without a flush of their own; once they are
    /// in, the log is flushed once, after SQLite's writer was given back, and only then are the batch's signals
    /// answered as stored. A 202 still means on disk, and a mission's write no longer waits behind capture's fsync.
    /// </summary>
    OncePerBatch,
}
