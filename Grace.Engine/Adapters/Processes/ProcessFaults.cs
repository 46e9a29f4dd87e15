using Grace.Engine.Faults;
using Grace.Engine.Missions;
using Grace.Engine.Targets;

namespace Grace.Engine.Adapters.Processes;

/// <summary>Kills a supervised process from outside, as a crash would; the supervisor reports the exit.</summary>
public sealed class ProcessCrashFault(ProcessSupervisor supervisor) : IFaultDemo
{
    public static readonly FaultKind Kind = new("ProcessCrash");

    public FaultInfo Info { get; } = new(Kind, "Crash a supervised process",
        "Kills the process from outside, as a crash would; the supervisor reports the exit.", ProcessKind.Id, HasSize: false);

    public string? Unavailable(ResolvedTarget target) => supervisor.ProcessOf(target.Key) is null ? $"'{target.Key}' is not running." : null;

    public Task<string> InjectAsync(ResolvedTarget target, int megabytes, CancellationToken cancellationToken)
    {
        var process = supervisor.ProcessOf(target.Key) ?? throw new MissionOperationException($"'{target.Key}' is not running.");
        var pid = process.Id;
        process.Kill(entireProcessTree: true);
        return Task.FromResult($"Killed pid {pid} of '{target.Key}'.");
    }
}

/// <summary>Stops a supervised process with SIGSTOP, as a hang would: alive, doing nothing; only its heartbeat tells.</summary>
public sealed class ProcessHangFault(ProcessSupervisor supervisor) : IFaultDemo
{
    public static readonly FaultKind Kind = new("ProcessHang");

    public FaultInfo Info { get; } = new(Kind, "Hang a supervised process",
        "Stops the process with SIGSTOP: it stays alive but does nothing, and only its health check (its heartbeat) can tell.", ProcessKind.Id, HasSize: false);

    public string? Unavailable(ResolvedTarget target) =>
        !OperatingSystem.IsLinux() ? "The hang fault stops the process with SIGSTOP, which Grace sends on Linux only."
        : supervisor.ProcessOf(target.Key) is null ? $"'{target.Key}' is not running."
        : null;

    public Task<string> InjectAsync(ResolvedTarget target, int megabytes, CancellationToken cancellationToken)
    {
        var process = supervisor.ProcessOf(target.Key) ?? throw new MissionOperationException($"'{target.Key}' is not running.");
        if (NativeMethods.Kill(process.Id, NativeMethods.SigStop) != 0)
        {
            throw new MissionOperationException($"SIGSTOP to pid {process.Id} of '{target.Key}' failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}).");
        }

        return Task.FromResult($"Stopped pid {process.Id} of '{target.Key}' with SIGSTOP: it is alive but does nothing until it is restarted.");
    }
}
