using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Verify;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Engine.Supervision;

/// <summary>
/// <c>process.restart</c>: stops a supervised process gracefully (SIGTERM, then a kill after
/// <c>StopTimeoutSeconds</c>, default 10), starts it again, and waits until the target's health
/// check passes (at most <c>HealthTimeoutSeconds</c>, default 45). A target without a health check
/// only has to stay up for <c>SettleSeconds</c> (default 2). A restart cannot be undone.
/// An approval holds for the process the approvers saw, known by its pid and when Grace started
/// it: restarted by someone else, crashed, or started since, it is another process, and a new
/// approval is needed.
/// </summary>
public sealed class ProcessRestartExecutor(ProcessSupervisor supervisor, IServiceProvider services, TimeProvider time) : IRemediationExecutor
{
    public string Action => "process.restart";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Process };
    public bool CanRollback => false;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        foreach (var (key, max) in new[] { ("StopTimeoutSeconds", 600), ("SettleSeconds", 600), ("HealthTimeoutSeconds", 3600) })
        {
            if (parameters.TryGetValue(key, out var s) && (!double.TryParse(s, CultureInfo.InvariantCulture, out var v) || v < 0 || v > max))
            {
                yield return $"Parameters:{key} must be a number of seconds between 0 and {max} (it is '{s}').";
            }
        }
    }

    /// <summary>The longest a restart may take with these parameters: the stop timeout, then the health wait (or the settle time).</summary>
    public static double LongestSeconds(IReadOnlyDictionary<string, string> parameters, TargetOptions? target) =>
        Seconds(parameters, "StopTimeoutSeconds", 10) + (target?.HealthCheck is not null ? Seconds(parameters, "HealthTimeoutSeconds", 45) : Seconds(parameters, "SettleSeconds", 2));

    public string Describe(ActionRequest request) =>
        $"Restarts supervised process '{request.Target.Key}': SIGTERM, a kill after {Seconds(request, "StopTimeoutSeconds", 10)} s, then a new start, "
        + (request.Target.Options?.HealthCheck is { } check
            ? $"then waits up to {Seconds(request, "HealthTimeoutSeconds", 45)} s for its health check ({TargetHealth.Rule(check)})."
            : $"then checks it stays up for {Seconds(request, "SettleSeconds", 2)} s (it has no health check).");

    public Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var process = supervisor.ProcessOf(request.Target.Key);
        var identity = new ProcessIdentity(process?.Id, process is null ? null : supervisor.StartedAtOf(request.Target.Key));
        var summary = process is null ? "Not running."
            : $"Running as pid {process.Id} since {process.StartTime.ToUniversalTime():u}" + (ProcessSupervisor.IsStopped(process) ? ", stopped (not scheduled)." : ".");
        return Task.FromResult(Consent.Snapshot(JsonSerializer.Serialize(new { pid = process?.Id }), summary, identity, identity.Describe()));
    }

    public async Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var key = request.Target.Key;
        var old = supervisor.ProcessOf(key)?.Id;
        var graceful = await supervisor.StopAsync(key, TimeSpan.FromSeconds(Seconds(request, "StopTimeoutSeconds", 10)), cancellationToken);
        var target = request.Target.Options ?? throw new ActionRefusedException($"Target '{key}' has no process configuration.");
        var process = supervisor.Start(key, target);
        var started = time.GetTimestamp();
        string waited;
        if (target.HealthCheck is { } check)
        {
            var health = services.GetRequiredService<TargetHealth>();
            var timeout = TimeSpan.FromSeconds(Seconds(request, "HealthTimeoutSeconds", 45));
            while (true)
            {
                ThrowIfExited(key, process);
                var reading = await health.CheckAsync(key, check, cancellationToken);
                if (reading.Healthy)
                {
                    waited = $"healthy after {time.GetElapsedTime(started).TotalSeconds:0.#} s ({TargetHealth.Rule(check)}, {reading.Observed})";
                    break;
                }

                if (time.GetElapsedTime(started) >= timeout)
                {
                    throw new ActionRefusedException(
                        $"'{key}' was restarted (pid {process.Id}) but its health check ({TargetHealth.Rule(check)}) did not pass within {timeout.TotalSeconds:0.#} s: {reading.Observed}.");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(250), time, cancellationToken);
            }
        }
        else
        {
            await Task.Delay(TimeSpan.FromSeconds(Seconds(request, "SettleSeconds", 2)), time, cancellationToken);
            ThrowIfExited(key, process);
            waited = $"up for {time.GetElapsedTime(started).TotalSeconds:0.#} s (no health check)";
        }

        var stopped = old is null ? $"Started '{key}' (it was not running) as pid {process.Id}"
            : $"Restarted '{key}': pid {old.Value.ToString(CultureInfo.InvariantCulture)} → {process.Id}" + (graceful ? " (stopped gracefully)" : " (killed after the stop timeout)");
        return new ActionResult($"{stopped}, {waited}.",
            JsonSerializer.Serialize(new { oldPid = old, newPid = process.Id, graceful }));
    }

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) =>
        throw new NotSupportedException("A restart cannot be undone.");

    public string DescribeDrift(SnapshotState approved, SnapshotState current) =>
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

    private static double Seconds(ActionRequest request, string key, double fallback) => Seconds(request.Parameters, key, fallback);

    private static double Seconds(IReadOnlyDictionary<string, string> parameters, string key, double fallback) =>
        parameters.TryGetValue(key, out var s) && double.TryParse(s, CultureInfo.InvariantCulture, out var v) ? v : fallback;
}

/// <summary>
/// Probes of a supervised process (or of Grace itself, where it makes sense):
/// <c>process.alive</c> (1 or 0), <c>process.memory-mb</c>, <c>process.cpu-percent</c> (over
/// <c>WindowMilliseconds</c>, default 500), <c>process.silent-seconds</c> (since its last line of
/// output) and <c>process.responsive</c> (1 when it runs, is not stopped, and has written a line
/// within <c>MaxSilentSeconds</c> when that is given: a hung worker stays alive but falls silent).
/// </summary>
public sealed class ProcessProbe(ProcessSupervisor supervisor, TimeProvider time, string key) : IProbe
{
    public string Key => key;

    public string Unit => key switch
    {
        "process.alive" => "alive",
        "process.responsive" => "responsive",
        "process.memory-mb" => "MiB",
        "process.silent-seconds" => "s",
        _ => "%",
    };

    public IReadOnlySet<TargetKind> TargetKinds { get; } = key is "process.silent-seconds" or "process.responsive"
        ? new HashSet<TargetKind> { TargetKind.Process }
        : new HashSet<TargetKind> { TargetKind.Process, TargetKind.Grace };

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        if (parameters.TryGetValue("MaxSilentSeconds", out var s) && (!double.TryParse(s, CultureInfo.InvariantCulture, out var v) || v <= 0))
        {
            yield return $"Parameters:MaxSilentSeconds must be a positive number of seconds (it is '{s}').";
        }

        if (parameters.TryGetValue("WindowMilliseconds", out var w) && (!int.TryParse(w, CultureInfo.InvariantCulture, out var ms) || ms is < 10 or > 60_000))
        {
            yield return $"Parameters:WindowMilliseconds must be a whole number between 10 and 60000 (it is '{w}').";
        }
    }

    public async Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken)
    {
        using var self = request.Target.Kind == TargetKind.Grace ? Process.GetCurrentProcess() : null;
        var process = self ?? supervisor.ProcessOf(request.Target.Key);
        var running = process is { HasExited: false };
        switch (key)
        {
            case "process.alive":
                return running ? 1 : 0;
            case "process.responsive":
                // With MaxSilentSeconds the output is a heartbeat: no line yet since the start is no proof of life.
                var quietEnough = !request.Parameters.TryGetValue("MaxSilentSeconds", out var max)
                    || supervisor.LastOutputOf(request.Target.Key) is { } last && time.GetUtcNow() - last <= TimeSpan.FromSeconds(double.Parse(max, CultureInfo.InvariantCulture));
                return running && !ProcessSupervisor.IsStopped(process!) && quietEnough ? 1 : 0;
            case "process.silent-seconds":
                return supervisor.SilenceOf(request.Target.Key)?.TotalSeconds
                    ?? throw new InvalidOperationException($"'{request.Target.Key}' is not running: it has no output to time.");
        }

        if (!running)
        {
            return 0;
        }

        process!.Refresh();
        if (key == "process.memory-mb")
        {
            return process.WorkingSet64 / 1048576.0;
        }

        var window = request.Parameters.TryGetValue("WindowMilliseconds", out var w) ? int.Parse(w, CultureInfo.InvariantCulture) : 500;
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.Delay(window, cancellationToken);
        process.Refresh();
        return (process.TotalProcessorTime - cpuBefore).TotalMilliseconds / clock.Elapsed.TotalMilliseconds / Environment.ProcessorCount * 100;
    }
}
