using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Execute;
using Grace.Engine.Targets;

namespace Grace.Engine.Snapshot;

/// <summary>
/// Takes the safe-hold snapshot an executor needs for its rollback, and stores it with the mission:
/// once for the approvers to see, and again right before the action.
/// </summary>
public sealed class SnapshotService(ExecutorCatalog executors, TargetRegistry targets, ActionResilience resilience, TimeProvider time)
{
    public const string ForApproval = "approval";
    public const string PreExecution = "pre-execution";
    /// <summary>Taken for a shadow mission: what the action would have started from.</summary>
    public const string ForShadow = "shadow";

    public ActionRequest RequestFor(Mission mission) => new(mission.Id, targets.Resolve(mission.Target),
        JsonSerializer.Deserialize<Dictionary<string, string>>(mission.Parameters) is { } p
            ? new Dictionary<string, string>(p, StringComparer.OrdinalIgnoreCase)
            : new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase));

    /// <summary>The request of one runbook step, to undo or release it after the mission moved on.</summary>
    public ActionRequest RequestFor(Guid missionId, MissionStep step) => new(missionId, targets.Resolve(step.Target),
        JsonSerializer.Deserialize<Dictionary<string, string>>(step.Parameters) is { } p
            ? new Dictionary<string, string>(p, StringComparer.OrdinalIgnoreCase)
            : new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase));

    public async Task<(Data.Entities.Snapshot Row, SnapshotState State)> TakeAsync(GraceDbContext db, Mission mission, string purpose, CancellationToken cancellationToken)
    {
        var executor = executors.Executor(mission.Action);
        var request = RequestFor(mission);
        var state = await resilience.ForProbe(mission.Target).ExecuteAsync(
            ct => new ValueTask<SnapshotState>(executor.SnapshotAsync(request, ct)), cancellationToken);
        var row = new Data.Entities.Snapshot
        {
            Id = Guid.CreateVersion7(time.GetUtcNow()),
            MissionId = mission.Id,
            Executor = executor.Action,
            Target = mission.Target,
            Purpose = purpose,
            State = JsonSerializer.Serialize(state),
            Summary = state.Summary,
            TakenAt = time.GetUtcNow(),
            StepIndex = mission.StepCount > 0 ? mission.StepIndex : null,
        };
        db.Snapshots.Add(row);
        return (row, state);
    }

    public static SnapshotState Read(Data.Entities.Snapshot row) => JsonSerializer.Deserialize<SnapshotState>(row.State)!;
}
