using Docker.DotNet.Models;
using Grace.Engine.Configuration;
using Grace.Engine.Verify;

namespace Grace.Engine.Adapters.Containers;

/// <summary>What the container probes share: the kind they read, no parameters, and the engine's view of the container.</summary>
public abstract class ContainerProbe(ContainerEngines engines) : Probe<NoParameters>
{
    protected ContainerEngines Engines => engines;
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(ContainerKind.Id);

    protected override async Task<double> ReadAsync(ProbeRequest request, NoParameters parameters, CancellationToken cancellationToken) =>
        await ReadAsync(request, await engines.InspectAsync(request.Target, cancellationToken), cancellationToken);

    protected abstract Task<double> ReadAsync(ProbeRequest request, ContainerView view, CancellationToken cancellationToken);
}

/// <summary><c>container.running</c>: 1 while the container runs (not paused, not between restarts), 0 otherwise.</summary>
public sealed class ContainerRunningProbe(ContainerEngines engines) : ContainerProbe(engines)
{
    public override string Key => "container.running";
    public override string Unit => "running";
    protected override Task<double> ReadAsync(ProbeRequest request, ContainerView view, CancellationToken cancellationToken) =>
        Task.FromResult(view.Running && view.Status == "running" ? 1.0 : 0.0);
}

/// <summary><c>container.health</c>: 1 when the container's HEALTHCHECK says healthy, 0 otherwise (starting, unhealthy, stopped). A container without a HEALTHCHECK has no reading.</summary>
public sealed class ContainerHealthProbe(ContainerEngines engines) : ContainerProbe(engines)
{
    public override string Key => "container.health";
    public override string Unit => "healthy";
    protected override Task<double> ReadAsync(ProbeRequest request, ContainerView view, CancellationToken cancellationToken) => view.Health switch
    {
        null when !view.Running => Task.FromResult(0.0),
        null => throw new InvalidOperationException($"Container {view.Name} has no HEALTHCHECK: container.health cannot read it (use container.running)."),
        "healthy" => Task.FromResult(1.0),
        _ => Task.FromResult(0.0),
    };
}

/// <summary><c>container.restart-count</c>: how many times the engine restarted the container under its restart policy.</summary>
public sealed class ContainerRestartCountProbe(ContainerEngines engines) : ContainerProbe(engines)
{
    public override string Key => "container.restart-count";
    public override string Unit => "restarts";
    protected override Task<double> ReadAsync(ProbeRequest request, ContainerView view, CancellationToken cancellationToken) => Task.FromResult((double)view.RestartCount);
}

/// <summary><c>container.uptime-seconds</c>: seconds since the container last started; 0 when it is not running.</summary>
public sealed class ContainerUptimeProbe(ContainerEngines engines, TimeProvider time) : ContainerProbe(engines)
{
    public override string Key => "container.uptime-seconds";
    public override string Unit => "s";
    protected override Task<double> ReadAsync(ProbeRequest request, ContainerView view, CancellationToken cancellationToken) =>
        Task.FromResult(view.Running && view.StartedAt is { } at ? Math.Max(0, (time.GetUtcNow() - at).TotalSeconds) : 0.0);
}

/// <summary>
/// <c>container.memory-mb</c>: the container's memory in MiB as <c>docker stats</c> shows it (usage less
/// the inactive page cache); 0 when it is not running.
/// </summary>
public sealed class ContainerMemoryProbe(ContainerEngines engines) : ContainerProbe(engines)
{
    public override string Key => "container.memory-mb";
    public override string Unit => "MiB";

    protected override async Task<double> ReadAsync(ProbeRequest request, ContainerView view, CancellationToken cancellationToken)
    {
        if (!view.Running)
        {
            return 0;
        }

        ContainerStatsResponse? stats = null;
        await Engines.CallAsync(request.Target.Key, request.Target.Settings<ContainerTarget>(),
            (c, ct) => c.Containers.GetContainerStatsAsync(view.Id, new ContainerStatsParameters { Stream = false, OneShot = true }, new Immediate<ContainerStatsResponse>(s => stats = s), ct),
            ContainerEngines.CallTimeout, cancellationToken);
        var memory = stats?.MemoryStats ?? throw new InvalidOperationException($"The engine gave no memory statistics for container {view.Name}.");
        double usage = memory.Usage ?? 0;
        double inactive = memory.Stats is { } s
            ? s.TryGetValue("total_inactive_file", out var v1) ? v1 : s.TryGetValue("inactive_file", out var v2) ? v2 : 0
            : 0;
        return (usage > inactive ? usage - inactive : usage) / 1048576.0;
    }
}
