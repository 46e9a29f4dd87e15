using Grace.Engine.Configuration;
using Grace.Engine.Targets;

namespace Grace.Engine.Execute;

/// <summary>What an executor is asked to do: one action on one target.</summary>
public sealed record ActionRequest(Guid MissionId, ResolvedTarget Target, IReadOnlyDictionary<string, string> Parameters);

/// <summary>
/// The safe-hold state: <paramref name="State"/> is what the rollback needs (JSON),
/// <paramref name="Summary"/> what a person reads, <paramref name="DriftKey"/> what must not
/// change between the approval and the action.
/// </summary>
public sealed record SnapshotState(string State, string Summary, string DriftKey);

/// <summary>What the action did, as evidence on the timeline.</summary>
public sealed record ActionResult(string Message, string? Data = null);

/// <summary>
/// Does one kind of action on one kind of target, for real, and knows how to snapshot and undo it.
/// </summary>
public interface IRemediationExecutor
{
    /// <summary>The key playbooks name in <c>Action</c>.</summary>
    string Action { get; }

    /// <summary>The kinds of target this executor can act on.</summary>
    IReadOnlySet<TargetKind> TargetKinds { get; }

    /// <summary>False when the action cannot be undone (a checkpoint); a failed contract then fails the mission.</summary>
    bool CanRollback { get; }

    /// <summary>Problems with a playbook's parameters, each naming the parameter; empty when they are fine.</summary>
    IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters);

    /// <summary>One sentence on what the action changes, for the approvers.</summary>
    string Describe(ActionRequest request);

    Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken);

    Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken);

    /// <summary>Restores the snapshot; returns what was restored.</summary>
    Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken);

    /// <summary>Called once the contract held, to release what the snapshot kept (a quarantine folder).</summary>
    Task CommitAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>A refusal by policy inside an executor (a path outside the allowed roots). Never retried.</summary>
public sealed class ActionRefusedException(string message) : Exception(message);
