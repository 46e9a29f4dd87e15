using Docker.DotNet.Models;
using Grace.Engine.Faults;
using Grace.Engine.Missions;
using Grace.Engine.Targets;

namespace Grace.Engine.Adapters.Containers;

/// <summary>
/// The fault demo's container faults: kill a container (SIGKILL through the engine, as a crash or
/// the OOM killer would), and make one unhealthy (freeze its main process with SIGSTOP: it still
/// runs, and a HEALTHCHECK that asks the process anything fails).
/// </summary>
public sealed class ContainerFaults(ContainerEngines engines) : IFaultHook
{
    public bool Handles(FaultKind kind) => kind is FaultKind.ContainerKill or FaultKind.ContainerUnhealthy;

    public string? Unavailable(FaultKind kind, ResolvedTarget target) => null;

    public async Task<string> InjectAsync(FaultKind kind, ResolvedTarget target, CancellationToken cancellationToken)
    {
        var settings = ContainerTargetSettings.Of(target.Key, target.Options);
        ContainerView view;
        try
        {
            view = await engines.InspectAsync(target, cancellationToken);
        }
        catch (Exception ex) when (ex is Execute.ActionRefusedException or ContainerEngineUnavailableException)
        {
            throw new MissionOperationException(ex.Message);
        }

        if (!view.Running)
        {
            throw new MissionOperationException($"Container {view.Name} of '{target.Key}' is not running ({view.Status}).");
        }

        if (kind == FaultKind.ContainerKill)
        {
            await engines.CallAsync(target.Key, settings, (c, ct) => c.Containers.KillContainerAsync(view.Id, new ContainerKillParameters { Signal = "SIGKILL" }, ct), ContainerEngines.ChangeTimeout, cancellationToken);
            return $"Killed container {view.Name} ({view.ShortId}) of '{target.Key}' with SIGKILL, as a crash would; the engine reports its death.";
        }

        var inspect = await engines.CallAsync(target.Key, settings, (c, ct) => c.Containers.InspectContainerAsync(view.Id, ct), ContainerEngines.CallTimeout, cancellationToken);
        if (inspect.Config?.Healthcheck?.Test is not { Count: > 0 } test || test[0] == "NONE")
        {
            throw new MissionOperationException($"Container {view.Name} of '{target.Key}' has no HEALTHCHECK: nothing would notice it is unwell.");
        }

        await engines.CallAsync(target.Key, settings, (c, ct) => c.Containers.KillContainerAsync(view.Id, new ContainerKillParameters { Signal = "SIGSTOP" }, ct), ContainerEngines.ChangeTimeout, cancellationToken);
        return $"Froze the main process of container {view.Name} ({view.ShortId}) of '{target.Key}' with SIGSTOP: it still runs, and its HEALTHCHECK ({string.Join(' ', test.Skip(1))}) turns unhealthy.";
    }
}
