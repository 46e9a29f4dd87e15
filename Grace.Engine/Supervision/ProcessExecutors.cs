using System.Diagnostics;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Verify;

namespace Grace.Engine.Supervision;

/// <summary>
/// <c>process.restart</c>: stops a supervised process gracefully (SIGTERM, then a kill after
/// <c>StopTimeoutSeconds</c>, default 10), starts it again and waits until it stays up for
/// <c>SettleSeconds</c> (default 2). A restart cannot be undone.
/// </summary>
public sealed class ProcessRestartExecutor(ProcessSupervisor supervisor) : IRemediationExecutor
{
    public string Action => "process.restart";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Process };
    public bool CanRollback => false;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters) => [];

    public string Describe(ActionRequest request) =>
        $"Restarts supervised process '{request.Target.Key}': SIGTERM, a kill after {Seconds(request, "StopTimeoutSeconds", 10)} s, then a new start.";

    public Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var process = supervisor.ProcessOf(request.Target.Key);
        var summary = process is null ? "Not running." : $"Running as pid {process.Id} since {process.StartTime:u}.";
        return Task.FromResult(new SnapshotState(JsonSerializer.Serialize(new { pid = process?.Id }), summary, request.Target.Key));
    }

    public async Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var key = request.Target.Key;
        var old = supervisor.ProcessOf(key)?.Id;
        var graceful = await supervisor.StopAsync(key, TimeSpan.FromSeconds(Seconds(request, "StopTimeoutSeconds", 10)), cancellationToken);
        var process = supervisor.Start(key, request.Target.Options ?? throw new ActionRefusedException($"Target '{key}' has no process configuration."));
        await Task.Delay(TimeSpan.FromSeconds(Seconds(request, "SettleSeconds", 2)), cancellationToken);
        if (process.HasExited)
        {
            throw new ActionRefusedException($"'{key}' exited with code {process.ExitCode} right after the restart.");
        }

        return new ActionResult($"Restarted '{key}': pid {old?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"} → {process.Id}"
            + (graceful ? " (stopped gracefully)." : " (killed after the stop timeout)."), JsonSerializer.Serialize(new { oldPid = old, newPid = process.Id, graceful }));
    }

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) =>
        throw new NotSupportedException("A restart cannot be undone.");

    private static double Seconds(ActionRequest request, string key, double fallback) =>
        request.Parameters.TryGetValue(key, out var s) && double.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : fallback;
}

/// <summary>
/// <c>process.alive</c> (1 or 0), <c>process.memory-mb</c> and <c>process.cpu-percent</c> (over
/// <c>WindowMilliseconds</c>, default 500) of a supervised process, or of Grace itself.
/// </summary>
public sealed class ProcessProbe(ProcessSupervisor supervisor, string key) : IProbe
{
    public string Key => key;
    public string Unit => key switch { "process.alive" => "alive", "process.memory-mb" => "MiB", _ => "%" };
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Process, TargetKind.Grace };

    public async Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken)
    {
        using var self = request.Target.Kind == TargetKind.Grace ? Process.GetCurrentProcess() : null;
        var process = self ?? supervisor.ProcessOf(request.Target.Key);
        if (key == "process.alive")
        {
            return process is { HasExited: false } ? 1 : 0;
        }

        if (process is null || process.HasExited)
        {
            return 0;
        }

        process.Refresh();
        if (key == "process.memory-mb")
        {
            return process.WorkingSet64 / 1048576.0;
        }

        var window = request.Parameters.TryGetValue("WindowMilliseconds", out var w) ? int.Parse(w, System.Globalization.CultureInfo.InvariantCulture) : 500;
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.Delay(window, cancellationToken);
        process.Refresh();
        return (process.TotalProcessorTime - cpuBefore).TotalMilliseconds / clock.Elapsed.TotalMilliseconds / Environment.ProcessorCount * 100;
    }
}
