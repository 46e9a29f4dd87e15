using System.Globalization;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;

namespace Grace.Engine.Execute;

/// <summary>What an executor is asked to do: one action on one target.</summary>
public sealed record ActionRequest(Guid MissionId, ResolvedTarget Target, IReadOnlyDictionary<string, string> Parameters);

/// <summary>
/// The safe-hold state: <paramref name="State"/> is what the rollback needs (JSON),
/// <paramref name="Summary"/> what a person reads, <paramref name="DriftKey"/> what must not
/// change between the approval and the action: the executor's own typed value of the state its
/// action depends on (see <see cref="Consent"/>), which the engine compares as text.
/// </summary>
public sealed record SnapshotState(string State, string Summary, string DriftKey)
{
    /// <summary>
    /// The drift value in words, as the approval card shows it ("312 files, 61 MiB"): what the
    /// approvers consent to. Null in snapshots taken before drift values were typed.
    /// </summary>
    public string? ApprovedAgainst { get; init; }
}

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

    /// <summary>What a playbook's use of this action needs of its target, as "Target: ..." or "Parameters: ..." sentences (a cache folder under a cache root).</summary>
    IEnumerable<string> ValidateUse(ResolvedTarget target, IReadOnlyDictionary<string, string> parameters) => [];

    /// <summary>One sentence on what the action changes, for the approvers.</summary>
    string Describe(ActionRequest request);

    Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken);

    Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken);

    /// <summary>Restores the snapshot; returns what was restored.</summary>
    Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken);

    /// <summary>Called once the contract held, to release what the snapshot kept (a quarantine folder).</summary>
    Task CommitAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// What changed between the approvers' snapshot and the one taken right before the action, in
    /// this action's own terms ("2 entries added: a.bin, b.bin"), once their drift keys differ.
    /// The default compares the two descriptions.
    /// </summary>
    string DescribeDrift(SnapshotState approved, SnapshotState current) => Consent.Compare(approved, current);
}

/// <summary>
/// Stale consent. An approval holds only for the state of the target the approvers saw. Each
/// executor names the part of that state its action depends on as a typed value (a record whose
/// equality means "unchanged": a cache's entries, the blocking sessions, a process's identity, a
/// flag's value); its JSON is the snapshot's <see cref="SnapshotState.DriftKey"/>, and its words
/// are <see cref="SnapshotState.ApprovedAgainst"/>. The engine voids an approval when the key of
/// the snapshot taken right before the action differs from the approvers' one.
/// </summary>
public static class Consent
{
    /// <summary>A snapshot whose drift key is <paramref name="basis"/> (serialized the same way every time) and whose words are <paramref name="approvedAgainst"/>.</summary>
    public static SnapshotState Snapshot<T>(string state, string summary, T basis, string approvedAgainst) where T : notnull =>
        new(state, summary, JsonSerializer.Serialize(basis)) { ApprovedAgainst = approvedAgainst };

    /// <summary>The typed drift value of a snapshot, or null when it holds none of this type (a snapshot from before drift values were typed).</summary>
    public static T? Read<T>(SnapshotState snapshot) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(snapshot.DriftKey);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>"approved against X; now Y", from the two snapshots' words.</summary>
    public static string Compare(SnapshotState approved, SnapshotState current) =>
        $"approved against: {approved.ApprovedAgainst ?? approved.Summary}; now: {current.ApprovedAgainst ?? current.Summary}";

    /// <summary>A few names, then how many more: the timeline is evidence, not a listing.</summary>
    public static string Names(IReadOnlyCollection<string> names, int shown = 5) =>
        string.Join(", ", names.Take(shown)) + (names.Count > shown ? $" and {names.Count - shown} more" : "");
}

/// <summary>A refusal by policy inside an executor (a path outside the allowed roots). Never retried.</summary>
public sealed class ActionRefusedException(string message) : Exception(message);
