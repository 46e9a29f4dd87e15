using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Microsoft.Extensions.Options;
using Grace.Engine.Execute;

namespace Grace.Engine.Adapters.Containers;

/// <summary><c>container.stop</c>: a graceful stop (its stop signal, a kill after <c>StopTimeoutSeconds</c>). Undone by starting it again, when it ran before.</summary>
public sealed class ContainerStopAction(ContainerEngines engines, IOptionsMonitor<EngineOptions> engine, TimeProvider time) : ContainerAction<StopContainerParameters>(engines, time)
{
    public override string Action => "container.stop";
    public override bool CanRollback => true;

    protected override IEnumerable<string> ValidateUse(ResolvedTarget target, StopContainerParameters p) =>
        FitsActionTimeout(target, Action, p.StopTimeoutSeconds + 15, engine.CurrentValue.ActionTimeoutSeconds);

    protected override string Describe(ActionRequest request, StopContainerParameters p)
    {
        var s = Settings(request);
        return $"Stops container '{s.Container}' on {s.Endpoint}: its stop signal, a kill after {p.StopTimeoutSeconds} s; undo: start it again.";
    }

    protected override ContainerRunState DriftOf(ContainerView view) => new(view.Id, view.ImageId, view.Running);

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, StopContainerParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var before = await Engines.InspectAsync(request.Target, cancellationToken);
        if (!before.Running && before.Status is not "restarting" and not "paused")
        {
            return new ActionResult($"Container {before.Name} ({before.ShortId}) was not running ({before.Status}); nothing to stop.", Json(new { container = before.Id, stopped = false }));
        }

        var (graceful, after) = await StopAsync(request, before, p.StopTimeoutSeconds, cancellationToken);
        return new ActionResult(
            $"Stopped container {after.Name} ({after.ShortId}) {(graceful ? "gracefully" : $"with a kill after the {p.StopTimeoutSeconds} s timeout")}: {after.Status}, exit code {after.ExitCode}.",
            Json(new { container = after.Id, stopped = true, graceful, exitCode = after.ExitCode }));
    }

    protected override async Task<string> RollbackAsync(ActionRequest request, StopContainerParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var before = Before(snapshot);
        if (!before.Running)
        {
            return $"{before.Name} was not running before the action; left stopped.";
        }

        var after = await StartAsync(request, before, 0, cancellationToken);
        return $"started {after.Name} ({after.ShortId}) again: {after.Status}.";
    }
}
