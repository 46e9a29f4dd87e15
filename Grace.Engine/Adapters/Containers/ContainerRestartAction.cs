using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
using Grace.Engine.Targets;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Adapters.Containers;

/// <summary>
/// <c>container.restart</c>: a graceful stop (the container's stop signal, a kill after
/// <c>StopTimeoutSeconds</c>), then a start; the timeline says whether it stopped in time and how it
/// runs <c>SettleSeconds</c> later. A restart cannot be undone; the contract judges it.
/// </summary>
public sealed class ContainerRestartAction(ContainerEngines engines, IOptionsMonitor<EngineOptions> engine, TimeProvider time) : ContainerAction<RestartContainerParameters>(engines, time)
{
    public override string Action => "container.restart";
    public override bool CanRollback => false;

    protected override IEnumerable<string> ValidateUse(ResolvedTarget target, RestartContainerParameters p) =>
        FitsActionTimeout(target, Action, p.StopTimeoutSeconds + p.SettleSeconds + 15, engine.CurrentValue.ActionTimeoutSeconds);

    protected override string Describe(ActionRequest request, RestartContainerParameters p)
    {
        var s = Settings(request);
        return $"Restarts container '{s.Container}' on {s.Endpoint}: its stop signal, a kill after {p.StopTimeoutSeconds} s, then a start (state read {p.SettleSeconds:0.#} s later).";
    }

    // A restart holds whatever the state: the container it was approved for may crash and come back meanwhile.
    protected override ContainerRunState DriftOf(ContainerView view) => new(view.Id, view.ImageId, Running: true);

    protected override string ApprovedAgainst(ContainerView view) => $"container {view.Name} ({view.ShortId}) from image {ContainerView.Abbreviate(view.ImageId)}";

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, RestartContainerParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var before = await Engines.InspectAsync(request.Target, cancellationToken);
        var stopped = "it was not running";
        var graceful = true;
        if (before.Running || before.Status is "restarting" or "paused")
        {
            var (wasGraceful, down) = await StopAsync(request, before, p.StopTimeoutSeconds, cancellationToken);
            graceful = wasGraceful;
            stopped = graceful ? $"stopped gracefully (exit code {down.ExitCode})" : $"killed after the {p.StopTimeoutSeconds} s stop timeout";
        }

        var after = await StartAsync(request, before, p.SettleSeconds, cancellationToken);
        return new ActionResult(
            $"Restarted container {after.Name} ({after.ShortId}): {stopped}, started; {StateAfter(after, p.SettleSeconds)}, {HumanFormat.Count(after.RestartCount, "restart")} counted by the engine.",
            Json(new { container = after.Id, graceful, wasRunning = before.Running, running = after.Running, exitCode = after.ExitCode, restartCount = after.RestartCount }));
    }
}
