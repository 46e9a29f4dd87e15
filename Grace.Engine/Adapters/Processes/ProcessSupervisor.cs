using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Adapters.Processes;

/// <summary>
/// Starts the configured Process targets, watches them, and reports an
/// unexpected exit as a signal; restarting is a mission's job (<c>process.restart</c>), so it goes
/// through policy, tiers and verification like any other action.
/// </summary>
public sealed class ProcessSupervisor(IServiceProvider services, ISignalSink sink, TimeProvider time, ILogger<ProcessSupervisor> logger)
    : IHostedService, IDisposable
{
    private readonly ConcurrentDictionary<string, Supervised> _processes = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The running process of a target, if any.</summary>
    public Process? ProcessOf(string target) => _processes.TryGetValue(target, out var s) && IsRunning(s.Process) ? s.Process : null;

    /// <summary>When Grace started the running process of a target; with its pid, which process it is (pids are reused).</summary>
    public DateTimeOffset? StartedAtOf(string target) =>
        _processes.TryGetValue(target, out var s) && IsRunning(s.Process) ? s.StartedAt : null;

    /// <summary>
    /// When the running process of a target last wrote a line to its standard output or error:
    /// null while it has written nothing since it started, or is not running. A worker that logs as
    /// it works and then falls silent is hung, even though it is still alive.
    /// </summary>
    public DateTimeOffset? LastOutputOf(string target) =>
        _processes.TryGetValue(target, out var s) && IsRunning(s.Process) ? s.LastOutputAt : null;

    /// <summary>How long the running process of a target has been silent (since its start when it has written nothing); null when it is not running.</summary>
    public TimeSpan? SilenceOf(string target) =>
        _processes.TryGetValue(target, out var s) && IsRunning(s.Process) ? time.GetUtcNow() - (s.LastOutputAt ?? s.StartedAt) : null;

    /// <summary>
    /// Whether the kernel holds the process stopped (state T, as after SIGSTOP or a debugger):
    /// alive, but it will do nothing until it is continued. Read from <c>/proc/&lt;pid&gt;/stat</c>; false where there is no /proc.
    /// </summary>
    public static bool IsStopped(Process process)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{process.Id}/stat");
            // The command name in parentheses may hold spaces; the state is the first field after it.
            var state = stat[(stat.LastIndexOf(')') + 2)..];
            return state.Length > 0 && state[0] is 'T' or 't';
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    // A process object that was disposed or never started answers HasExited with an exception.
    private static bool IsRunning(Process process)
    {
        try
        {
            return !process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Resolved here, not injected: the catalog's validator needs the executors, which need this supervisor.
        var catalog = services.GetRequiredService<IOptionsMonitor<CatalogOptions>>();
        var targets = services.GetRequiredService<TargetRegistry>();
        // In a cluster each process runs on the instance its target names, and only there.
        var placement = services.GetRequiredService<Cluster.TargetPlacement>();
        foreach (var (key, options) in catalog.CurrentValue.Targets.Where(t => t.Value.Kind == ProcessKind.Id && placement.Owns(t.Key)))
        {
            try
            {
                Start(key, targets.Resolve(key).Settings<ProcessTarget>());
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                logger.LogError(ex, "Supervised process {Target} could not start", key);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Starts (or starts again) a target's command.</summary>
    public Process Start(string key, ProcessTarget target)
    {
        var info = new ProcessStartInfo(target.Command)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = target.WorkingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in target.Arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"{target.Command} did not start.");
        process.EnableRaisingEvents = true;
        var supervised = new Supervised(process, time.GetUtcNow());
        // The output is read (a full pipe would block the child) and only its timing is kept, as a heartbeat.
        process.OutputDataReceived += (_, e) => supervised.Heard(e.Data, time.GetUtcNow());
        process.ErrorDataReceived += (_, e) => supervised.Heard(e.Data, time.GetUtcNow());
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes[key] = supervised;
        process.Exited += (_, _) =>
        {
            if (!supervised.Stopping)
            {
                var code = process.ExitCode;
                sink.TryWrite(new Signal($"{SignalSources.Process}{key}", $"Supervised process {key} exited unexpectedly with code {code}", Severity.Critical, time.GetUtcNow(),
                    MessageTemplate: $"Supervised process {key} exited unexpectedly", Target: key, ReportedBy: "engine"));
            }
        };
        logger.LogInformation("Started supervised process {Target} (pid {Pid})", key, process.Id);
        return process;
    }

    /// <summary>Stops a target's process: SIGTERM, then a kill of the whole tree after the timeout.</summary>
    public async Task<bool> StopAsync(string key, TimeSpan gracePeriod, CancellationToken cancellationToken)
    {
        if (!_processes.TryGetValue(key, out var supervised) || !IsRunning(supervised.Process))
        {
            return true;
        }

        supervised.Stopping = true;
        var process = supervised.Process;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            _ = NativeMethods.Kill(process.Id, NativeMethods.SigTerm);
            if (OperatingSystem.IsLinux())
            {
                // A stopped (hung by SIGSTOP) process only acts on SIGTERM once it is continued.
                _ = NativeMethods.Kill(process.Id, NativeMethods.SigCont);
            }
        }

        using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        grace.CancelAfter(gracePeriod);
        try
        {
            await process.WaitForExitAsync(grace.Token);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            if (IsRunning(process))
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(cancellationToken);
            }

            return false;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var key in _processes.Keys)
        {
            try
            {
                await StopAsync(key, TimeSpan.FromSeconds(5), cancellationToken);
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                logger.LogWarning(ex, "Stopping supervised process {Target} failed", key);
            }
        }
    }

    public void Dispose()
    {
        foreach (var supervised in _processes.Values)
        {
            supervised.Process.Dispose();
        }
    }

    private sealed class Supervised(Process process, DateTimeOffset startedAt)
    {
        private long _lastOutputTicks;

        public Process Process { get; } = process;
        public DateTimeOffset StartedAt { get; } = startedAt;
        public DateTimeOffset? LastOutputAt => Interlocked.Read(ref _lastOutputTicks) is var ticks and > 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;
        public volatile bool Stopping;

        public void Heard(string? line, DateTimeOffset at)
        {
            // A null line is the end of the stream, not a sign of life.
            if (line is not null)
            {
                Interlocked.Exchange(ref _lastOutputTicks, at.UtcTicks);
            }
        }
    }
}

internal static partial class NativeMethods
{
    internal const int SigTerm = 15;

    // Linux numbers (macOS differs): used only where OperatingSystem.IsLinux().
    internal const int SigCont = 18;
    internal const int SigStop = 19;

    // Graceful stop: .NET's Process.Kill only sends SIGKILL.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static extern int Kill(int pid, int signal);
}
