namespace Grace.Data.Entities;

/// <summary>Latency samples of one benchmark before and after an action, and the regression verdict.</summary>
public class BenchmarkRun
{
    public Guid Id { get; set; }
    public Guid MissionId { get; set; }
    public required string Benchmark { get; set; }
    public required string Target { get; set; }
    /// <summary>Milliseconds, JSON array.</summary>
    public required string SamplesBefore { get; set; }
    public required string SamplesAfter { get; set; }
    public double Statistic { get; set; }
    public double PValue { get; set; }
    public double EffectSize { get; set; }
    public bool Regression { get; set; }
    public DateTimeOffset At { get; set; }
}

/// <summary>What one finished mission taught: the raw material of the statistics.</summary>
public class OutcomeRecord
{
    public Guid Id { get; set; }
    public Guid MissionId { get; set; }
    public required string PatternKey { get; set; }
    public required string PlaybookKey { get; set; }
    public required string Target { get; set; }
    public MissionState FinalState { get; set; }
    public bool Success { get; set; }
    public bool RolledBack { get; set; }
    /// <summary>From the incident's first signal (of this episode) to the verified contract; null when it never held.</summary>
    public double? TimeToRecoverSeconds { get; set; }
    /// <summary>First signal → this mission planned (earlier escalation rungs included).</summary>
    public double? DetectSeconds { get; set; }
    /// <summary>Planned → the gate's decision (policy and tier).</summary>
    public double? DecideSeconds { get; set; }
    /// <summary>Waiting for approvers (0 for tiers 0 and 1).</summary>
    public double? ApproveSeconds { get; set; }
    /// <summary>Approved → the last action done (snapshots, benchmarks before, the actions).</summary>
    public double? ActSeconds { get; set; }
    /// <summary>Waiting for the contracts to hold (every step's, for a runbook).</summary>
    public double? VerifySeconds { get; set; }
    /// <summary>For a runbook that failed: the step that failed ("3 restart-api").</summary>
    public string? FailedStep { get; set; }
    public DateTimeOffset At { get; set; }
}

/// <summary>Incremental statistics of one playbook for one pattern.</summary>
public class PlaybookStatistics : IVersioned
{
    public required string PatternKey { get; set; }
    public required string PlaybookKey { get; set; }
    public int Runs { get; set; }
    public int Successes { get; set; }
    public int Rollbacks { get; set; }
    public double SuccessRate { get; set; }
    /// <summary>Wilson score lower bound of the success rate at 95 %: cautious with few runs.</summary>
    public double Confidence { get; set; }
    public double MeanTimeToRecoverSeconds { get; set; }
    public DateTimeOffset? LastRunAt { get; set; }
    public bool Recommended { get; set; }
    public Guid Version { get; set; }
}

/// <summary>Who did what, when, from where, and why.</summary>
public class AuditEntry
{
    public long Id { get; set; }
    public DateTimeOffset At { get; set; }
    public required string Actor { get; set; }
    public required string Action { get; set; }
    public required string Subject { get; set; }
    public string? Detail { get; set; }
    public string? RemoteAddress { get; set; }
}

/// <summary>A persisted engine setting such as the kill switch.</summary>
public class EngineSetting
{
    public required string Key { get; set; }
    public required string Value { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public required string UpdatedBy { get; set; }
}

/// <summary>Rows that two people or two instances may change at once carry a version.</summary>
public interface IVersioned
{
    Guid Version { get; set; }
}
