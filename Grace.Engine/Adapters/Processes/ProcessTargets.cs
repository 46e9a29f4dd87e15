using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Grace.Engine.Adapters.Grace;
using Grace.Engine.Adapters.Http;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Adapters.Processes;

/// <summary>The settings of a Process target: the command Grace starts and supervises, and the Url it serves, if any.</summary>
public sealed record ProcessTarget(string Command, IReadOnlyList<string> Arguments, string? WorkingDirectory, Uri? Url) : IHttpEndpoint;

/// <summary>
/// A process Grace starts and supervises on this machine (<c>Command</c>, <c>Arguments</c>,
/// <c>WorkingDirectory</c>, and a <c>Url</c> when it serves HTTP).
/// </summary>
public sealed class ProcessKind(PathResolver paths) : TargetKindAdapter<ProcessKind.Options>
{
    public static readonly TargetKind Id = new("Process");

    public override TargetKind Kind => Id;

    public override bool IsHostBound => true;

    protected override TargetSettings Resolve(string key, Options options)
    {
        if (string.IsNullOrWhiteSpace(options.Command))
        {
            return TargetSettings.Without("Command", "is required for a Process target (the executable Grace starts and supervises)");
        }

        Uri? url = null;
        if (options.Url is { } text && !Uri.TryCreate(text, UriKind.Absolute, out url))
        {
            return new TargetSettings(null, Problems: [$"Url '{text}' is not an absolute URL."]);
        }

        return TargetSettings.Of(new ProcessTarget(options.Command, options.Arguments, options.WorkingDirectory is { } dir ? paths.Resolve(dir) : null, url));
    }

    public override bool IsTransient(Exception exception) => exception is TimeoutException;

    /// <summary><c>Grace:Targets:&lt;key&gt;</c> of a Process target.</summary>
    public sealed class Options
    {
        public string? Command { get; set; }
        public List<string> Arguments { get; set; } = [];
        public string? WorkingDirectory { get; set; }
        public string? Url { get; set; }
    }
}

/// <summary>The parameters of <c>process.restart</c>.</summary>
public sealed class RestartParameters
{
    /// <summary>After SIGTERM, how long before the process is killed.</summary>
    [Range(0, 600, ErrorMessage = "must be a number of seconds between 0 and 600.")]
    public double StopTimeoutSeconds { get; init; } = 10;

    /// <summary>Without a health check: how long the new process must stay up.</summary>
    [Range(0, 600, ErrorMessage = "must be a number of seconds between 0 and 600.")]
    public double SettleSeconds { get; init; } = 2;

    /// <summary>With a health check: how long to wait for it to pass.</summary>
    [Range(0, 3600, ErrorMessage = "must be a number of seconds between 0 and 3600.")]
    public double HealthTimeoutSeconds { get; init; } = 45;

    /// <summary>The longest a restart may take: the stop timeout, then the health wait (or the settle time).</summary>
    public double LongestSeconds(bool hasHealthCheck) => StopTimeoutSeconds + (hasHealthCheck ? HealthTimeoutSeconds : SettleSeconds);
}

/// <summary>
/// <c>process.restart</c>: stops a supervised process gracefully (SIGTERM, then a kill after
/// <c>StopTimeoutSeconds</c>), starts it again, and waits until the target's health check passes
/// (at most <c>HealthTimeoutSeconds</c>). A target without a health check only has to stay up for
/// <c>SettleSeconds</c>. A restart cannot be undone. An approval holds for the process the
/// approvers saw, known by its pid and when Grace started it: restarted by someone else, crashed,
/// or started since, it is another process, and a new approval is needed.
/// </summary>
public sealed class ProcessRestartExecutor(ProcessSupervisor supervisor, IServiceProvider services, IOptionsMonitor<EngineOptions> engine, TimeProvider time)
    : RemediationAction<RestartParameters>
{
    public override string Action => "process.restart";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(ProcessKind.Id);
    public override bool CanRollback => false;

    protected override IEnumerable<string> ValidateUse(ResolvedTarget target, RestartParameters p)
    {
        var longest = p.LongestSeconds(target.Options.HealthCheck is not null);
        var limit = engine.CurrentValue.ActionTimeoutSeconds;
        if (longest >= limit)
        {
            yield return $"Parameters: a restart may take {longest:0.#} s (StopTimeoutSeconds, then HealthTimeoutSeconds or SettleSeconds), and Grace:Engine:ActionTimeoutSeconds ({limit}) would cut it off; lower them or raise it.";
        }
    }

    protected override string Describe(ActionRequest request, RestartParameters p) =>
        $"Restarts supervised process '{request.Target.Key}': SIGTERM, a kill after {p.StopTimeoutSeconds} s, then a new start, "
        + (request.Target.Options.HealthCheck is { } check
            ? $"then waits up to {p.HealthTimeoutSeconds} s for its health check ({TargetHealth.Rule(check)})."
            : $"then checks it stays up for {p.SettleSeconds} s (it has no health check).");

    protected override Task<SnapshotState> SnapshotAsync(ActionRequest request, RestartParameters p, CancellationToken cancellationToken)
    {
        var process = supervisor.ProcessOf(request.Target.Key);
        var identity = new ProcessIdentity(process?.Id, process is null ? null : supervisor.StartedAtOf(request.Target.Key));
        var summary = process is null ? "Not running."
            : $"Running as pid {process.Id} since {process.StartTime.ToUniversalTime():u}" + (ProcessSupervisor.IsStopped(process) ? ", stopped (not scheduled)." : ".");
        return Task.FromResult(Consent.Snapshot(JsonSerializer.Serialize(new { pid = process?.Id }), summary, identity, identity.Describe()));
    }

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, RestartParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var key = request.Target.Key;
        var old = supervisor.ProcessOf(key)?.Id;
        var graceful = await supervisor.StopAsync(key, TimeSpan.FromSeconds(p.StopTimeoutSeconds), cancellationToken);
        var process = supervisor.Start(key, request.Target.Settings<ProcessTarget>());
        var started = time.GetTimestamp();
        string waited;
        if (request.Target.Options.HealthCheck is { } check)
        {
            var health = services.GetRequiredService<TargetHealth>();
            var timeout = TimeSpan.FromSeconds(p.HealthTimeoutSeconds);
            while (true)
            {
                ThrowIfExited(key, process);
                var reading = await health.CheckAsync(key, check, cancellationToken);
                if (reading.Healthy)
                {
                    waited = $"healthy after {HumanFormat.Duration(time.GetElapsedTime(started))} ({TargetHealth.Rule(check, reading.Unit)}, {reading.Observed})";
                    break;
                }

                if (time.GetElapsedTime(started) >= timeout)
                {
                    throw new ActionRefusedException(
                        $"'{key}' was restarted (pid {process.Id}) but its health check ({TargetHealth.Rule(check, reading.Unit)}) did not pass within {HumanFormat.Duration(timeout)}: {reading.Observed}.");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(250), time, cancellationToken);
            }
        }
        else
        {
            await Task.Delay(TimeSpan.FromSeconds(p.SettleSeconds), time, cancellationToken);
            ThrowIfExited(key, process);
            waited = $"up for {HumanFormat.Duration(time.GetElapsedTime(started))} (no health check)";
        }

        var stopped = old is null ? $"Started '{key}' (it was not running) as pid {process.Id}"
            : $"Restarted '{key}': pid {old.Value.ToString(CultureInfo.InvariantCulture)} → {process.Id}" + (graceful ? " (stopped gracefully)" : " (killed after the stop timeout)");
        return new ActionResult($"{stopped}, {waited}.",
            JsonSerializer.Serialize(new { oldPid = old, newPid = process.Id, graceful }));
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<ProcessIdentity>(approved) is { } was && Consent.Read<ProcessIdentity>(current) is { } now
            ? $"the process is no longer the one the approvers saw: {was.Describe()} → {now.Describe()}"
            : Consent.Compare(approved, current);

    /// <summary>What a restart depends on: which process runs (its pid and when Grace started it), or that none does.</summary>
    internal sealed record ProcessIdentity(int? Pid, DateTimeOffset? StartedAt)
    {
        public string Describe() => Pid is { } pid
            ? $"pid {pid.ToString(CultureInfo.InvariantCulture)}, started {StartedAt?.UtcDateTime.ToString("u", CultureInfo.InvariantCulture) ?? "before Grace watched it"}"
            : "not running";
    }

    private static void ThrowIfExited(string key, Process process)
    {
        if (process.HasExited)
        {
            throw new ActionRefusedException($"'{key}' exited with code {process.ExitCode} right after the restart.");
        }
    }
}

/// <summary>
/// A probe of a supervised process (or of Grace itself, where it makes sense): the process is
/// looked up by the target, and a subclass reads one value of it.
/// </summary>
public abstract class ProcessProbe<TParameters>(ProcessSupervisor supervisor) : Probe<TParameters> where TParameters : class, new()
{
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(ProcessKind.Id, GraceKind.Id);

    protected ProcessSupervisor Supervisor => supervisor;

    protected override async Task<double> ReadAsync(ProbeRequest request, TParameters p, CancellationToken cancellationToken)
    {
        using var self = request.Target.Kind == GraceKind.Id ? Process.GetCurrentProcess() : null;
        var process = self ?? supervisor.ProcessOf(request.Target.Key);
        return await ReadAsync(request, p, process is { HasExited: false } ? process : null, cancellationToken);
    }

    /// <summary>Reads the value of a running process (null when it is not running).</summary>
    protected abstract Task<double> ReadAsync(ProbeRequest request, TParameters p, Process? running, CancellationToken cancellationToken);
}

/// <summary><c>process.alive</c>: 1 while the process runs.</summary>
public sealed class ProcessAliveProbe(ProcessSupervisor supervisor) : ProcessProbe<NoParameters>(supervisor)
{
    public override string Key => "process.alive";
    public override string Unit => "alive";

    protected override Task<double> ReadAsync(ProbeRequest request, NoParameters p, Process? running, CancellationToken cancellationToken) =>
        Task.FromResult(running is null ? 0.0 : 1.0);
}

/// <summary><c>process.memory-mb</c>: the working set of a running process (0 when it is not running).</summary>
public sealed class ProcessMemoryProbe(ProcessSupervisor supervisor) : ProcessProbe<NoParameters>(supervisor)
{
    public override string Key => "process.memory-mb";
    public override string Unit => "MiB";

    protected override Task<double> ReadAsync(ProbeRequest request, NoParameters p, Process? running, CancellationToken cancellationToken)
    {
        running?.Refresh();
        return Task.FromResult(running is null ? 0 : running.WorkingSet64 / 1048576.0);
    }
}

/// <summary>The parameters of <c>process.cpu-percent</c>.</summary>
public sealed class CpuParameters
{
    /// <summary>How long the CPU time is measured over.</summary>
    [Range(10, 60_000, ErrorMessage = "must be a whole number between 10 and 60000.")]
    public int WindowMilliseconds { get; init; } = 500;
}

/// <summary><c>process.cpu-percent</c>: CPU use of a running process over <c>WindowMilliseconds</c>, as a share of all cores.</summary>
public sealed class ProcessCpuProbe(ProcessSupervisor supervisor) : ProcessProbe<CpuParameters>(supervisor)
{
    public override string Key => "process.cpu-percent";
    public override string Unit => "%";

    protected override async Task<double> ReadAsync(ProbeRequest request, CpuParameters p, Process? running, CancellationToken cancellationToken)
    {
        if (running is null)
        {
            return 0;
        }

        running.Refresh();
        var cpuBefore = running.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.Delay(p.WindowMilliseconds, cancellationToken);
        running.Refresh();
        return (running.TotalProcessorTime - cpuBefore).TotalMilliseconds / clock.Elapsed.TotalMilliseconds / Environment.ProcessorCount * 100;
    }
}

/// <summary><c>process.silent-seconds</c>: how long the supervised process has written nothing (since its start when it has written nothing yet).</summary>
public sealed class ProcessSilenceProbe(ProcessSupervisor supervisor) : ProcessProbe<NoParameters>(supervisor)
{
    public override string Key => "process.silent-seconds";
    public override string Unit => "s";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(ProcessKind.Id);

    protected override Task<double> ReadAsync(ProbeRequest request, NoParameters p, Process? running, CancellationToken cancellationToken) =>
        Task.FromResult(Supervisor.SilenceOf(request.Target.Key)?.TotalSeconds
            ?? throw new InvalidOperationException($"'{request.Target.Key}' is not running: it has no output to time."));
}

/// <summary>The parameters of <c>process.responsive</c>.</summary>
public sealed class ResponsiveParameters
{
    /// <summary>With it, the output is a heartbeat: silent longer than this is hung.</summary>
    [Range(0.001, 86_400, ErrorMessage = "must be a positive number of seconds.")]
    public double? MaxSilentSeconds { get; init; }
}

/// <summary>
/// <c>process.responsive</c>: 1 when the supervised process runs, is not stopped (SIGSTOP), and,
/// with <c>MaxSilentSeconds</c>, has written a line within that time: a hung worker stays alive
/// but falls silent, and one that wrote nothing since its start has given no proof of life.
/// </summary>
public sealed class ProcessResponsiveProbe(ProcessSupervisor supervisor, TimeProvider time) : ProcessProbe<ResponsiveParameters>(supervisor)
{
    public override string Key => "process.responsive";
    public override string Unit => "responsive";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(ProcessKind.Id);

    protected override Task<double> ReadAsync(ProbeRequest request, ResponsiveParameters p, Process? running, CancellationToken cancellationToken)
    {
        var quietEnough = p.MaxSilentSeconds is not { } max
            || Supervisor.LastOutputOf(request.Target.Key) is { } last && time.GetUtcNow() - last <= TimeSpan.FromSeconds(max);
        return Task.FromResult(running is not null && !ProcessSupervisor.IsStopped(running) && quietEnough ? 1.0 : 0.0);
    }
}

public static class ProcessTargetsExtensions
{
    /// <summary>The Process kind: supervision (started with Grace, exits reported as signals), restarts that wait for health, process probes.</summary>
    public static IServiceCollection AddProcessTargets(this IServiceCollection services)
    {
        services.AddSingleton<ITargetKindAdapter, ProcessKind>();
        services.AddSingleton<ProcessSupervisor>();
        services.AddHostedService(sp => sp.GetRequiredService<ProcessSupervisor>());
        services.AddSingleton<IRemediationExecutor, ProcessRestartExecutor>();
        services.AddSingleton<IProbe, ProcessAliveProbe>();
        services.AddSingleton<IProbe, ProcessMemoryProbe>();
        services.AddSingleton<IProbe, ProcessCpuProbe>();
        services.AddSingleton<IProbe, ProcessSilenceProbe>();
        services.AddSingleton<IProbe, ProcessResponsiveProbe>();
        services.AddSingleton<Faults.IFaultDemo, ProcessCrashFault>();
        services.AddSingleton<Faults.IFaultDemo, ProcessHangFault>();
        return services;
    }
}
