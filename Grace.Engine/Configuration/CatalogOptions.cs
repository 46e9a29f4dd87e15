using Grace.Data.Entities;

namespace Grace.Engine.Configuration;

/// <summary>What Grace heals and how: <c>Grace:Targets</c>, <c>Grace:Patterns</c>, <c>Grace:Playbooks</c>.</summary>
public sealed class CatalogOptions
{
    public const string Section = "Grace";

    public Dictionary<string, TargetOptions> Targets { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, PatternOptions> Patterns { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, PlaybookOptions> Playbooks { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

public enum TargetKind
{
    /// <summary>Grace's own process (logging levels, its own signals).</summary>
    Grace,
    /// <summary>A SQLite database file; <c>UseGraceDatabase</c> points it at Grace's own.</summary>
    Sqlite,
    /// <summary>A folder on this machine.</summary>
    Directory,
    Http,
    Postgres,
    SqlServer,
    Process,
    /// <summary>A container on a Docker Engine API endpoint (Docker or Podman): see <c>Adapters/Containers</c>.</summary>
    Container,
    /// <summary>A remote host reached over SSH with a pinned host key: see <c>Adapters/Ssh</c>.</summary>
    Host,
}

/// <summary>Something Grace heals.</summary>
public sealed class TargetOptions
{
    public TargetKind Kind { get; set; }
    public string? Description { get; set; }
    /// <summary>
    /// May be left unconfigured (a demo database without a connection string): Grace starts anyway,
    /// skips its health check and blocks its missions, naming the setting to give it.
    /// </summary>
    public bool Optional { get; set; }
    /// <summary>File or folder path (SQLite, Directory), relative to the content root unless absolute.</summary>
    public string? Path { get; set; }
    /// <summary>For a SQLite target: use Grace's own database file.</summary>
    public bool UseGraceDatabase { get; set; }
    public string? ConnectionString { get; set; }
    public string? Url { get; set; }
    /// <summary>Latency benchmarks sampled before and after every action on this target; a regression rolls the action back.</summary>
    public List<Verify.Benchmarks.BenchmarkOptions> Benchmarks { get; set; } = [];
    /// <summary>For a Process target: the executable Grace starts and supervises.</summary>
    public string? Command { get; set; }
    public List<string> Arguments { get; set; } = [];
    public string? WorkingDirectory { get; set; }
    /// <summary>A periodic check whose failure becomes a signal, so faults nobody logged are noticed.</summary>
    public Capture.HealthCheckOptions? HealthCheck { get; set; }
    /// <summary>
    /// In a cluster, the instance (<c>Grace:Cluster:InstanceName</c>) on whose machine this target
    /// lives: its actions, probes, health check and supervision run only there. Required for
    /// host-bound kinds in a cluster; optional for an Http target reachable from one machine only.
    /// </summary>
    public string? Instance { get; set; }

    /// <summary>For a Container target: the engine's API, <c>unix:///run/docker.sock</c> or <c>tcp://127.0.0.1:2375</c>.</summary>
    public string? Endpoint { get; set; }
    /// <summary>For a Container target: the container's name or id.</summary>
    public string? Container { get; set; }
    /// <summary>For a Host target: the host name or IP address sshd listens on.</summary>
    public string? Address { get; set; }
    /// <summary>For a Host target: sshd's port (22 when not set).</summary>
    public int? Port { get; set; }
    /// <summary>For a Host target: the user Grace signs in as.</summary>
    public string? User { get; set; }
    /// <summary>For a Host target: the private key file Grace signs in with (OpenSSH or PEM format).</summary>
    public string? PrivateKeyFile { get; set; }
    /// <summary>For a Host target: the pinned host key, as <c>ssh-keygen -lf</c> prints it (<c>SHA256:...</c>).</summary>
    public string? HostKeyFingerprint { get; set; }

    /// <summary>
    /// True when only one machine can act on the target: a process, a file or folder, Grace's own
    /// process, a container behind a local unix socket, or any target that names its
    /// <see cref="Instance"/> (a service on a loopback address, say, in a cluster that spans machines).
    /// </summary>
    public bool IsHostBound => Kind is TargetKind.Process or TargetKind.Sqlite or TargetKind.Directory or TargetKind.Grace || Instance is not null
        || Adapters.Containers.ContainerTargets.IsLocal(this);
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
