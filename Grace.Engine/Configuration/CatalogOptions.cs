using Grace.Data.Entities;

namespace Grace.Engine.Configuration;

/// <summary>What Grace heals and how: <c>Grace:Targets</c>, <c>Grace:Patterns</c>, <c>Grace:Playbooks</c>.</summary>
public sealed class CatalogOptions
{
    public const string Section = "Grace";

    public Dictionary<string, TargetOptions> Targets { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, PatternOptions> Patterns { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, PlaybookOptions> Playbooks { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Source prefixes, besides Grace's own (<see cref="Capture.SignalSources.BuiltIn"/>), that only
    /// Grace may report under (<c>Grace:ReservedSources</c>): the API refuses them from every key,
    /// for sources whose patterns act on something no program outside Grace should drive.
    /// </summary>
    public List<string> ReservedSources { get; set; } = [];
}

/// <summary>
/// Something Grace heals: what every target has. Its kind's own settings (a <c>Path</c>, a
/// <c>Url</c>, a <c>ConnectionString</c>, a <c>Command</c>...) sit in the same configuration section
/// and are bound by the kind's adapter module (see <see cref="Adapters.ITargetKindAdapter"/>).
/// </summary>
public sealed class TargetOptions
{
    /// <summary>The kind's name, as its adapter module declares it (<c>Sqlite</c>, <c>Http</c>, <c>Process</c>...).</summary>
    public TargetKind Kind { get; set; }

    public string? Description { get; set; }

    /// <summary>
    /// May be left unconfigured (a demo database without a connection string): Grace starts anyway,
    /// skips its health check and blocks its missions, naming the setting to give it.
    /// </summary>
    public bool Optional { get; set; }

    /// <summary>Latency benchmarks sampled before and after every action on this target; a regression rolls the action back.</summary>
    public List<Verify.Benchmarks.BenchmarkOptions> Benchmarks { get; set; } = [];

    /// <summary>A periodic check whose failure becomes a signal, so faults nobody logged are noticed.</summary>
    public Capture.HealthCheckOptions? HealthCheck { get; set; }

    /// <summary>
    /// In a cluster, the instance (<c>Grace:Cluster:InstanceName</c>) on whose machine this target
    /// lives: its actions, probes, health check and supervision run only there. Required for
    /// host-bound kinds in a cluster (unless <c>Grace:Cluster:DefaultTargetInstance</c> names one);
    /// any target that names it becomes host-bound (a service on a loopback address, say).
    /// </summary>
    public string? Instance { get; set; }
}

/// <summary>What an incident must look like for a playbook to apply. Every field set must match.</summary>
public sealed class PatternOptions
{
    public string? Description { get; set; }
    /// <summary>Exception type, full name or simple name (matches <c>Microsoft.Data.Sqlite.SqliteException</c> or <c>SqliteException</c>).</summary>
    public string? ExceptionType { get; set; }
    /// <summary>Regular expression tried against the message and its template.</summary>
    public string? MessageRegex { get; set; }
    /// <summary>Source prefix (a logger category, a service name).</summary>
    public string? Source { get; set; }
    public Severity MinimumSeverity { get; set; } = Severity.Error;
    /// <summary>Labels that must be present with these values.</summary>
    public Dictionary<string, string> Labels { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>Candidate playbooks, in the order to try when nothing has been learned yet.</summary>
    public List<string> Playbooks { get; set; } = [];
    /// <summary>Target of the missions when the signal names none.</summary>
    public string? Target { get; set; }
    /// <summary>
    /// While a mission heals an incident that came from Alertmanager, silence the alert there
    /// (<c>Grace:Alertmanager:Url</c>) and lift the silence when the mission ends.
    /// </summary>
    public bool SilenceAlertmanager { get; set; }
    /// <summary>What happens when a mission for this pattern does not heal it; <c>Grace:Engine:Escalation</c> when absent.</summary>
    public EscalationOptions? Escalation { get; set; }
    /// <summary>Shadow mode for every mission of this pattern: Grace records what it would have done and does not act.</summary>
    public bool Shadow { get; set; }
}

/// <summary>
/// The escalation ladder of a pattern: when a mission fails, rolls back, is blocked, expires or is
/// rejected while its incident is not resolved, try the next-ranked playbook, then retry after the
/// cooldown (at most <see cref="Retries"/> times), then hand the incident to people and notify them.
/// </summary>
public sealed class EscalationOptions
{
    /// <summary>Off: a mission that does not heal hands the incident to people at once.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>Try the pattern's other candidate playbooks (best-ranked first) before retrying one.</summary>
    public bool TryNextPlaybook { get; set; } = true;
    /// <summary>Retries after every candidate was tried (or refused), each once its cooldown has passed.</summary>
    public int Retries { get; set; } = 2;
    /// <summary>The wait before a retry when no cooldown says how long (a block by the hourly cap, a failure of a playbook without one).</summary>
    public int RetryDelaySeconds { get; set; } = 60;
}

/// <summary>An action with its contract and its policy.</summary>
public sealed class PlaybookOptions
{
    public string? Title { get; set; }
    /// <summary>Executor key, such as <c>sqlite.wal-checkpoint</c>.</summary>
    public string Action { get; set; } = "";
    /// <summary>Target key in <c>Grace:Targets</c>.</summary>
    public string Target { get; set; } = "";
    /// <summary>0 runs, 1 runs and notifies, 2 needs one approver, 3 needs two distinct approvers.</summary>
    public int Tier { get; set; }
    public Dictionary<string, string> Parameters { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public ContractOptions? Contract { get; set; }
    /// <summary>Overrides <c>Grace:Engine:DefaultCooldownSeconds</c>.</summary>
    public int? CooldownSeconds { get; set; }
    public bool DryRun { get; set; }
    /// <summary>
    /// Shadow mode: Grace plans, gates and snapshots as usual, does not act, and records what it would
    /// have done; people's later acts on the incident are compared with it. A Lead may toggle it at runtime.
    /// </summary>
    public bool Shadow { get; set; }
    /// <summary>
    /// A runbook: ordered steps, each an action on a target with its own contract. A failed step is
    /// rolled back, then the steps done before it are undone in reverse order. When set, the
    /// playbook's own <see cref="Action"/>, <see cref="Target"/>, <see cref="Parameters"/> and
    /// <see cref="Contract"/> stay empty.
    /// </summary>
    public List<RunbookStepOptions> Steps { get; set; } = [];

    /// <summary>True when the playbook is a runbook of steps.</summary>
    public bool IsRunbook => Steps.Count > 0;

    /// <summary>The steps to run: the runbook's, or the playbook's one action as a single step.</summary>
    public IReadOnlyList<RunbookStepOptions> EffectiveSteps => IsRunbook
        ? Steps
        : [new RunbookStepOptions { Name = Action, Action = Action, Target = Target, Parameters = Parameters, Contract = Contract }];

    /// <summary>The first action's key (what a list shows for the playbook).</summary>
    public string FirstAction => IsRunbook ? Steps[0].Action : Action;

    /// <summary>The target of the first action.</summary>
    public string FirstTarget => IsRunbook ? Steps[0].Target : Target;

    /// <summary>The first step's contract.</summary>
    public ContractOptions? FirstContract => IsRunbook ? Steps[0].Contract : Contract;
}

/// <summary>One step of a runbook: an action, its target and parameters, and the contract it promises.</summary>
public sealed class RunbookStepOptions
{
    /// <summary>What people read on the timeline ("drain", "restart"); defaults to the step's action.</summary>
    public string? Name { get; set; }
    public string Action { get; set; } = "";
    public string Target { get; set; } = "";
    public Dictionary<string, string> Parameters { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public ContractOptions? Contract { get; set; }

    /// <summary>The name shown for step <paramref name="index"/> (0-based).</summary>
    public string NameAt(int index) => string.IsNullOrWhiteSpace(Name) ? $"{Action}" : Name;
}

/// <summary>The measurable effect a playbook promises.</summary>
public sealed class ContractOptions
{
    /// <summary>Probe key, such as <c>sqlite.wal-bytes</c>.</summary>
    public string Probe { get; set; } = "";
    /// <summary>Target the probe reads; defaults to the playbook's target.</summary>
    public string? Target { get; set; }
    public Dictionary<string, string> Parameters { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public Comparator Comparator { get; set; } = Comparator.LessThanOrEqual;
    public double Threshold { get; set; }
    public int DeadlineSeconds { get; set; } = 30;
}
