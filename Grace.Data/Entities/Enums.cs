namespace Grace.Data.Entities;

/// <summary>Severity of a captured signal, in increasing order.</summary>
public enum Severity
{
    Debug = 0,
    Information = 1,
    Warning = 2,
    Error = 3,
    Critical = 4,
}

/// <summary>Lifecycle of an incident: the group of all signals sharing one fingerprint.</summary>
public enum IncidentStatus
{
    Open = 0,
    Mitigating = 1,
    Resolved = 2,
}

/// <summary>What a line of an incident's own timeline records.</summary>
public enum IncidentEventKind
{
    /// <summary>The first signal of a new incident was stored.</summary>
    Opened = 0,
    /// <summary>A resolved (or long quiet) incident fired again: a new episode.</summary>
    Reopened = 1,
    /// <summary>A mission was planned for it.</summary>
    MissionPlanned = 2,
    /// <summary>A mission for it ended.</summary>
    MissionEnded = 3,
    /// <summary>Escalation: the next-ranked playbook is tried.</summary>
    NextPlaybook = 4,
    /// <summary>Escalation: the playbook is tried again once its cooldown has passed.</summary>
    RetryScheduled = 5,
    /// <summary>Escalation: the retry is planned now.</summary>
    RetryDue = 6,
    /// <summary>Escalation: the incident went quiet; the next rung waits for it to fire again.</summary>
    Paused = 7,
    /// <summary>Escalation: the quiet incident fired again; the waiting rung goes on.</summary>
    Resumed = 8,
    /// <summary>Escalation's last rung: handed to people, and notified.</summary>
    NeedsHuman = 9,
    /// <summary>A person acknowledged it.</summary>
    Acknowledged = 10,
    /// <summary>A person assigned it to someone.</summary>
    Assigned = 11,
    /// <summary>A person commented.</summary>
    Commented = 12,
    /// <summary>Resolved: by a person, a mission that healed it, or a resolving signal.</summary>
    Resolved = 13,
    /// <summary>A person asked for a playbook to run now.</summary>
    RunRequested = 14,
    /// <summary>The escalation ladder stopped without handing it over (it was resolved, or a person runs it).</summary>
    LadderStopped = 15,
}

/// <summary>Why a mission exists.</summary>
public enum MissionOrigin
{
    /// <summary>A new or reopened incident (the first rung).</summary>
    Signal = 0,
    /// <summary>The escalation ladder: the next playbook, or a retry after the cooldown.</summary>
    Escalation = 1,
    /// <summary>A person chose the playbook on the incident page ("run now").</summary>
    Person = 2,
}

/// <summary>Where one step of a runbook is.</summary>
public enum RunbookStepState
{
    Pending = 0,
    Running = 1,
    Succeeded = 2,
    /// <summary>Its action or contract failed, and it was rolled back.</summary>
    RolledBack = 3,
    /// <summary>Its action or contract failed and it could not be rolled back.</summary>
    Failed = 4,
    /// <summary>It had succeeded; a later step failed, and it was undone.</summary>
    Compensated = 5,
    /// <summary>It had succeeded; a later step failed, and undoing it failed (or it cannot be undone).</summary>
    CompensationFailed = 6,
}

/// <summary>
/// The persisted state machine of a mission. The database holds the truth; the engine only
/// moves a mission from one state to the next and records every move as a <see cref="MissionEvent"/>.
/// </summary>
public enum MissionState
{
    /// <summary>Diagnosed and planned: a contract exists, the gate has not run yet.</summary>
    Planned = 0,
    /// <summary>Tier 2+: waits for the required number of distinct approvers.</summary>
    AwaitingApproval = 1,
    /// <summary>Cleared by the gate (and approvers where needed); the action has not started.</summary>
    Approved = 2,
    /// <summary>The intent to act is committed; the action is running (or was, if the host died).</summary>
    Executing = 3,
    /// <summary>The action ran; the contract probe is being polled.</summary>
    Verifying = 4,
    /// <summary>The contract held.</summary>
    Succeeded = 5,
    /// <summary>The contract failed and the snapshot was restored.</summary>
    RolledBack = 6,
    /// <summary>The action or its rollback failed; a human must look.</summary>
    Failed = 7,
    /// <summary>An approver rejected the action.</summary>
    Rejected = 8,
    /// <summary>The approval window passed without enough approvals.</summary>
    Expired = 9,
    /// <summary>Policy (kill switch, cooldown, hourly cap, target busy) refused the action.</summary>
    Blocked = 10,
    /// <summary>Dry-run: everything up to the action was done, the action was not.</summary>
    DryRunCompleted = 11,
    /// <summary>A runbook step failed and was rolled back; the steps done before it are being undone, last first.</summary>
    Compensating = 12,
    /// <summary>Shadow mode: planned, gated and snapshotted as usual; the action did not run, and what it would have done is recorded.</summary>
    ShadowRecorded = 13,
}

/// <summary>The pipeline stage a mission event belongs to.</summary>
public enum PipelineStage
{
    Capture = 0,
    Diagnose = 1,
    Plan = 2,
    Gate = 3,
    Snapshot = 4,
    Execute = 5,
    Verify = 6,
    Rollback = 7,
    Learn = 8,
}

/// <summary>How a contract compares the observed value with its threshold.</summary>
public enum Comparator
{
    LessThan = 0,
    LessThanOrEqual = 1,
    GreaterThan = 2,
    GreaterThanOrEqual = 3,
    Equal = 4,
    NotEqual = 5,
}

public enum ContractVerdict
{
    Pending = 0,
    Met = 1,
    Failed = 2,
}

public enum ApprovalStatus
{
    Pending = 0,
    Approved = 1,
    Rejected = 2,
    Expired = 3,
    Voided = 4,
}

public enum ApprovalVerdict
{
    Approve = 0,
    Reject = 1,
}

/// <summary>The groups of mission states the engine reasons about, defined once.</summary>
public static class MissionStates
{
    /// <summary>The mission will never move again.</summary>
    public static readonly MissionState[] Terminal =
    [
        MissionState.Succeeded, MissionState.RolledBack, MissionState.Failed, MissionState.Rejected,
        MissionState.Expired, MissionState.Blocked, MissionState.DryRunCompleted, MissionState.ShadowRecorded,
    ];

    /// <summary>Cleared to act, acting, or verifying: it holds its target.</summary>
    public static readonly MissionState[] InFlight = [MissionState.Approved, MissionState.Executing, MissionState.Verifying, MissionState.Compensating];

    /// <summary>Its action has started (or ran): another action on the target must wait.</summary>
    public static readonly MissionState[] Acting = [MissionState.Executing, MissionState.Verifying, MissionState.Compensating];

    /// <summary>The engine, not a person, moves it next.</summary>
    public static readonly MissionState[] EngineMoves = [MissionState.Planned, MissionState.Approved, MissionState.Executing, MissionState.Verifying, MissionState.Compensating];

    /// <summary>Ended without healing while something was meant to run: the escalation ladder takes over.</summary>
    public static readonly MissionState[] Unhealed = [MissionState.Failed, MissionState.RolledBack, MissionState.Blocked, MissionState.Expired, MissionState.Rejected];

    /// <summary>What the Overview counts as trouble.</summary>
    public static readonly MissionState[] Trouble = [MissionState.Failed, MissionState.RolledBack, MissionState.Blocked, MissionState.Expired];
}

public static class MissionStateExtensions
{
    /// <summary>True when the mission will never move again.</summary>
    public static bool IsTerminal(this MissionState state) => Array.IndexOf(MissionStates.Terminal, state) >= 0;
}

/// <summary>What an API key may call. Stored as the flags' number; shown as <c>signals:write</c> and so on.</summary>
[Flags]
public enum ApiKeyScopes
{
    None = 0,
    /// <summary><c>signals:write</c>: <c>POST /api/signals</c>.</summary>
    Signals = 1,
    /// <summary><c>alerts:write</c>: <c>POST /api/alertmanager</c> and <c>POST /api/grafana</c>.</summary>
    Alerts = 2,
    /// <summary><c>webhooks:write</c>: <c>POST /api/webhooks/{name}</c> (the generic JSON mapping).</summary>
    Webhooks = 4,
    /// <summary>Every ingestion scope: what keys made before scopes existed keep.</summary>
    Ingest = Signals | Alerts | Webhooks,
    /// <summary><c>metrics:read</c>: <c>GET /metrics</c> when <c>Grace:Telemetry:Metrics:Access</c> is <c>ApiKey</c> (a Prometheus scraping Grace). Never given by default.</summary>
    Metrics = 8,
}

/// <summary>Where a suggested pattern stands.</summary>
public enum SuggestionStatus
{
    /// <summary>Shown to Leads on the Suggested patterns page.</summary>
    Suggested = 0,
    /// <summary>A Lead said it is not worth a pattern; hidden, and kept hidden when it grows.</summary>
    Dismissed = 1,
}
