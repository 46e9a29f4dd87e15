using Grace.Engine.Execute;

namespace Grace.Engine.Adapters.Containers;

/// <summary><c>container.start</c>: starts a stopped container. Undone by stopping it again, when it was not running before.</summary>
public sealed class ContainerStartAction(ContainerEngines engines, TimeProvider time) : ContainerAction<StartContainerParameters>(engines, time)
{
    public override string Action => "container.start";
    public override bool CanRollback => true;

    protected override string Describe(ActionRequest request, StartContainerParameters p)
    {
        var s = Settings(request);
        return $"Starts container '{s.Container}' on {s.Endpoint}; undo: stop it again.";
    }

    protected override ContainerRunState DriftOf(ContainerView view) => new(view.Id, view.ImageId, view.Running);

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, StartContainerParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var before = await Engines.InspectAsync(request.Target, cancellationToken);
        if (before.Running)
        {
            return new ActionResult($"Container {before.Name} ({before.ShortId}) was already running; nothing to start.", Json(new { container = before.Id, started = false }));
        }

        var after = await StartAsync(request, before, p.SettleSeconds, cancellationToken);
        return new ActionResult($"Started container {after.Name} ({after.ShortId}); {StateAfter(after, p.SettleSeconds)}.",
            Json(new { container = after.Id, started = true, running = after.Running, exitCode = after.ExitCode }));
    }

    protected override async Task<string> RollbackAsync(ActionRequest request, StartContainerParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var before = Before(snapshot);
        if (before.Running)
        {
            return $"{before.Name} was running before the action; left running.";
        }

        var now = await Engines.InspectAsync(request.Target, cancellationToken);
        if (!now.Running)
        {
            return $"{now.Name} is not running; nothing to stop.";
        }

        var (graceful, _) = await StopAsync(request, now, 10, cancellationToken);
        return $"stopped {now.Name} ({now.ShortId}) again{(graceful ? "" : ", killed after 10 s")}, as it was before the start.";
    }
}
