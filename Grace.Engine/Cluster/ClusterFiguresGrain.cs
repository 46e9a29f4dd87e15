using Grace.Engine.Telemetry;
using Microsoft.Extensions.Logging;

namespace Grace.Engine.Cluster;

/// <summary>
/// The cluster's one reader of the database-wide gauge figures (open incidents, pending approvals,
/// the oldest one's age). Its instance, and only its instance, exports them: a <c>sum()</c> over
/// instances is then the database's figure, and the database is read once per interval for the
/// whole cluster, not once per instance. Every instance keeps it alive (see <see cref="InstanceKeeper"/>),
/// so it moves to a survivor within a keep-alive of its instance's death.
/// </summary>
public interface IClusterFiguresGrain : IGrainWithStringKey
{
    [AlwaysInterleave, OneWay]
    Task KeepReadingAsync();
}

[GrainType(GraceGrainTypes.Figures)]
public sealed class ClusterFiguresGrain(TelemetrySnapshot snapshot, ILogger<ClusterFiguresGrain> logger) : Grain, IClusterFiguresGrain
{
    public const string Key = "cluster";
    private IGrainTimer? _timer;

    public Task KeepReadingAsync()
    {
        _timer ??= this.RegisterGrainTimer(ReadAsync, new GrainTimerCreationOptions(TimeSpan.Zero, TelemetrySnapshot.Interval) { KeepAlive = true });
        return Task.CompletedTask;
    }

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            await snapshot.RefreshAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            snapshot.Renew();
            logger.LogDebug(ex, "Telemetry figures could not be read");
        }
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Another instance takes over the reading; this one must not keep reporting beside it.
        snapshot.Release();
        return Task.CompletedTask;
    }
}
