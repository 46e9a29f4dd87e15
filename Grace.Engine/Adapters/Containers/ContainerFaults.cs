using Docker.DotNet.Models;
using Grace.Engine.Faults;
using Grace.Engine.Missions;
using Grace.Engine.Targets;

namespace Grace.Engine.Adapters.Containers;

/// <summary>Kills a container through its engine (SIGKILL), as a crash or the OOM killer would; the engine's events report the death.</summary>
public sealed class ContainerKillFault(ContainerEngines engines) : IFaultDemo
{
    public static readonly FaultKind Kind = new("ContainerKill");

    public FaultInfo Info { get; } = new(Kind, "Kill a container",
        "Kills the container's processes through its engine (SIGKILL), as a crash would; the engine's event stream reports the death.", ContainerKind.Id, HasSize: false);

    public string? Unavailable(ResolvedTarget target) => null;

    public async Task<string> InjectAsync(ResolvedTarget target, int megabytes, CancellationToken cancellationToken)
    {
        var view = await ContainerFaults.RunningAsync(engines, target, cancellationToken);
        await ContainerFaults.CallAsync(engines, target, (c, ct) => c.Containers.KillContainerAsync(view.Id, new ContainerKillParameters { Signal = "SIGKILL" }, ct), cancellationToken);
        return $"Killed container {view.Name} ({view.ShortId}) of '{target.Key}' with SIGKILL, as a crash would; the engine reports its death.";
    }
}

/// <summary>Freezes a container's main process (SIGSTOP): it still runs, and a HEALTHCHECK that asks the process anything turns unhealthy.</summary>
public sealed class ContainerUnhealthyFault(ContainerEngines engines) : IFaultDemo
{
    public static readonly FaultKind Kind = new("ContainerUnhealthy");

    public FaultInfo Info { get; } = new(Kind, "Make a container unhealthy",
        "Freezes the container's main process (SIGSTOP): it still runs, and its HEALTHCHECK, which asks the process, turns unhealthy.", ContainerKind.Id, HasSize: false);

    public string? Unavailable(ResolvedTarget target) => null;

    public async Task<string> InjectAsync(ResolvedTarget target, int megabytes, CancellationToken cancellationToken)
    {
        var view = await ContainerFaults.RunningAsync(engines, target, cancellationToken);
        var inspect = await ContainerFaults.CallAsync(engines, target, (c, ct) => c.Containers.InspectContainerAsync(view.Id, ct), cancellationToken);
        if (inspect.Config?.Healthcheck?.Test is not { Count: > 0 } test || test[0] == "NONE")
        {
            throw new MissionOperationException($"Container {view.Name} of '{target.Key}' has no HEALTHCHECK: nothing would notice it is unwell.");
        }

        await ContainerFaults.CallAsync(engines, target, (c, ct) => c.Containers.KillContainerAsync(view.Id, new ContainerKillParameters { Signal = "SIGSTOP" }, ct), cancellationToken);
        return $"Froze the main process of container {view.Name} ({view.ShortId}) of '{target.Key}' with SIGSTOP: it still runs, and its HEALTHCHECK ({string.Join(' ', test.Skip(1))}) turns unhealthy.";
    }
}

internal static class ContainerFaults
{
    /// <summary>The target's container, running; a refusal a person reads otherwise.</summary>
    public static async Task<ContainerView> RunningAsync(ContainerEngines engines, ResolvedTarget target, CancellationToken cancellationToken)
    {
        ContainerView view;
        try
        {
            view = await engines.InspectAsync(target, cancellationToken);
        }
        catch (Exception ex) when (ex is Execute.ActionRefusedException or ContainerEngineUnavailableException)
        {
            throw new MissionOperationException(ex.Message);
        }

        return view.Running ? view : throw new MissionOperationException($"Container {view.Name} of '{target.Key}' is not running ({view.Status}).");
    }

    public static async Task<T> CallAsync<T>(ContainerEngines engines, ResolvedTarget target, Func<Docker.DotNet.DockerClient, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await engines.CallAsync(target.Key, target.Settings<ContainerTarget>(), call, ContainerEngines.ChangeTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is Execute.ActionRefusedException or ContainerEngineUnavailableException)
        {
            throw new MissionOperationException(ex.Message);
        }
    }

    public static Task CallAsync(ContainerEngines engines, ResolvedTarget target, Func<Docker.DotNet.DockerClient, CancellationToken, Task> call, CancellationToken cancellationToken) =>
        CallAsync(engines, target, async (c, ct) => { await call(c, ct); return true; }, cancellationToken);
}
