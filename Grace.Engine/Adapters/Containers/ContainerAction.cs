using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;
using Docker.DotNet.Models;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
using Grace.Engine.Targets;

namespace Grace.Engine.Adapters.Containers;

/// <summary>
/// What every container action shares: its kind, its typed parameters bound once, and its safe-hold
/// snapshot (state, image id, restart count). What an approval holds for is a typed value
/// (<see cref="Consent"/>): this container, from this image (and, for a start or a stop, in this
/// state); a container recreated (a new id), moved to another image, or started or stopped by someone
/// else voids the approval.
/// </summary>
public abstract class ContainerAction<TParameters>(ContainerEngines engines, TimeProvider time) : RemediationAction<TParameters>
    where TParameters : class, new()
{
    protected ContainerEngines Engines => engines;
    protected TimeProvider Time => time;

    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(ContainerKind.Id);

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, TParameters parameters, CancellationToken cancellationToken)
    {
        var view = await engines.InspectAsync(request.Target, cancellationToken);
        return Consent.Snapshot(JsonSerializer.Serialize(view), view.Summary, DriftOf(view), ApprovedAgainst(view));
    }

    /// <summary>The part of the container's state this action's approval holds for: a record whose equality means "unchanged".</summary>
    protected abstract ContainerRunState DriftOf(ContainerView view);

    /// <summary>That part in words, for the approval card.</summary>
    protected virtual string ApprovedAgainst(ContainerView view) => $"container {view.Name} ({view.ShortId}) from image {ContainerView.Abbreviate(view.ImageId)}, {(view.Running ? "running" : "not running")}";

    /// <summary>What changed between the approvers' snapshot and the one right before the action: recreated, another image, started or stopped.</summary>
    public override string DescribeDrift(SnapshotState approved, SnapshotState current)
    {
        if (Consent.Read<ContainerRunState>(approved) is not { } was || Consent.Read<ContainerRunState>(current) is not { } now)
        {
            return Consent.Compare(approved, current);
        }

        var parts = new List<string>();
        if (was.Id != now.Id)
        {
            parts.Add($"the container was recreated ({ContainerView.Abbreviate(was.Id)} → {ContainerView.Abbreviate(now.Id)})");
        }

        if (was.ImageId != now.ImageId)
        {
            parts.Add($"its image changed ({ContainerView.Abbreviate(was.ImageId)} → {ContainerView.Abbreviate(now.ImageId)})");
        }

        if (was.Running != now.Running)
        {
            parts.Add(now.Running ? "it was started since" : "it was stopped since");
        }

        return parts.Count == 0 ? Consent.Compare(approved, current) : $"{string.Join("; ", parts)} (approved against: {approved.ApprovedAgainst ?? approved.Summary})";
    }

    /// <summary>
    /// A stop or restart on a configured target must fit the action timeout: the stop timeout, the settle
    /// time and the engine's calls. A target left unconfigured is checked once it is configured.
    /// </summary>
    protected static IEnumerable<string> FitsActionTimeout(ResolvedTarget target, string action, double seconds, int limit)
    {
        if (target.KindSettings is not null && seconds >= limit)
        {
            yield return $"Parameters: {action} may take {seconds:0.#} s (StopTimeoutSeconds, SettleSeconds and the engine's calls), and Grace:Engine:ActionTimeoutSeconds ({limit}) would cut it off; lower them or raise it.";
        }
    }

    protected static ContainerTarget Settings(ActionRequest request) => request.Target.Settings<ContainerTarget>();

    protected static ContainerView Before(SnapshotState snapshot) =>
        JsonSerializer.Deserialize<ContainerView>(snapshot.State) ?? throw new ActionRefusedException("The snapshot holds no container state.");

    /// <summary>Stops gracefully (the container's stop signal, then a kill after the timeout); true when it stopped before the kill.</summary>
    protected async Task<(bool Graceful, ContainerView After)> StopAsync(ActionRequest request, ContainerView before, int timeoutSeconds, CancellationToken cancellationToken)
    {
        var settings = Settings(request);
        engines.ExpectStop(before.Id);
        var started = time.GetTimestamp();
        try
        {
            await engines.CallAsync(request.Target.Key, settings,
                (c, ct) => c.Containers.StopContainerAsync(before.Id, new ContainerStopParameters { WaitBeforeKillSeconds = (uint)timeoutSeconds }, ct),
                TimeSpan.FromSeconds(timeoutSeconds) + ContainerEngines.ChangeTimeout, cancellationToken);
        }
        catch
        {
            engines.ForgetExpectedStop(before.Id);
            throw;
        }

        var after = await engines.InspectAsync(request.Target, cancellationToken);
        // A kill after the timeout ends the process with SIGKILL (exit code 137), past the timeout.
        var graceful = !(after.ExitCode == 137 && time.GetElapsedTime(started) >= TimeSpan.FromSeconds(timeoutSeconds));
        return (graceful, after);
    }

    protected async Task<ContainerView> StartAsync(ActionRequest request, ContainerView before, double settleSeconds, CancellationToken cancellationToken)
    {
        await engines.CallAsync(request.Target.Key, Settings(request),
            (c, ct) => c.Containers.StartContainerAsync(before.Id, new ContainerStartParameters(), ct), ContainerEngines.ChangeTimeout, cancellationToken);
        if (settleSeconds > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(settleSeconds), time, cancellationToken);
        }

        return await engines.InspectAsync(request.Target, cancellationToken);
    }

    /// <summary>"running since …" or "exited (code 1) 2 s after the start".</summary>
    protected static string StateAfter(ContainerView after, double settleSeconds) => after.Running
        ? $"running{(after.StartedAt is { } at ? $" since {at.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}" : "")}{(settleSeconds > 0 ? $" after {HumanFormat.Duration(settleSeconds)}" : "")}" + (after.Health is { } h ? $" ({h})" : "")
        : $"{after.Status} (exit code {after.ExitCode}) {HumanFormat.Duration(settleSeconds)} after the start";

    protected static string Json(object value) => JsonSerializer.Serialize(value);
}

/// <summary>
/// What an approval of a container action holds for: the container's identity and image, and whether
/// it runs (always true for a restart, which holds whatever the state: a crash loop changes it all the time).
/// </summary>
public sealed record ContainerRunState(string Id, string ImageId, bool Running);

/// <summary>Parameters of <c>container.restart</c>.</summary>
public sealed class RestartContainerParameters
{
    /// <summary>Seconds between the stop signal and a kill (default 10).</summary>
    [Range(0, 600)] public int StopTimeoutSeconds { get; init; } = 10;
    /// <summary>Seconds to wait after the start before reading the state for the timeline (default 2); the contract decides the outcome.</summary>
    [Range(0, 600)] public double SettleSeconds { get; init; } = 2;
}

/// <summary>Parameters of <c>container.start</c>.</summary>
public sealed class StartContainerParameters
{
    [Range(0, 600)] public double SettleSeconds { get; init; } = 2;
}

/// <summary>Parameters of <c>container.stop</c>.</summary>
public sealed class StopContainerParameters
{
    [Range(0, 600)] public int StopTimeoutSeconds { get; init; } = 10;
}
