using Grace.Engine.Gate;
using Grace.Engine.Missions;

namespace Grace.Engine.Cluster;

/// <summary>Asks a mission's grain (wherever it lives in the cluster) to look at the mission now.</summary>
public sealed class GrainMissionScheduler(IGrainFactory grains) : IMissionScheduler
{
    public void Enqueue(Guid missionId) => grains.GetGrain<IMissionGrain>(missionId).WakeAsync(WakeReason.Changed).Ignore();
}
