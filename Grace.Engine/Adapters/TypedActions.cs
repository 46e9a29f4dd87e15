using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;

namespace Grace.Engine.Adapters;

/// <summary>
/// An action with typed parameters: its <typeparamref name="TParameters"/> record is bound and
/// checked once at start (a typo stops Grace naming the key), and every step of the action receives
/// the bound value. Subclasses implement the lifecycle with it; nothing parses strings again.
/// </summary>
public abstract class RemediationAction<TParameters> : IRemediationExecutor where TParameters : class, new()
{
    public abstract string Action { get; }

    public abstract IReadOnlySet<TargetKind> TargetKinds { get; }

    public abstract bool CanRollback { get; }

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        var faults = ParameterBinder.TryBind<TParameters>(parameters, out var value);
        return faults.Count > 0 ? faults : Check(value!);
    }

    /// <summary>Rules that need the action's services (a source the logging controller knows), each "Parameters:Name message".</summary>
    protected virtual IEnumerable<string> Check(TParameters parameters) => [];

    public IEnumerable<string> ValidateUse(ResolvedTarget target, IReadOnlyDictionary<string, string> parameters) =>
        ParameterBinder.TryBind<TParameters>(parameters, out var value).Count == 0 ? ValidateUse(target, value!) : [];

    /// <summary>What this use of the action needs of its target ("Target: ..." or "Parameters: ..." sentences): a cache folder under a cache root.</summary>
    protected virtual IEnumerable<string> ValidateUse(ResolvedTarget target, TParameters parameters) => [];

    public string Describe(ActionRequest request) => Describe(request, Of(request));

    public Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken) => SnapshotAsync(request, Of(request), cancellationToken);

    public Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        // Cancelled before it starts, an action changes nothing, whatever its own code checks.
        cancellationToken.ThrowIfCancellationRequested();
        return ExecuteAsync(request, Of(request), snapshot, cancellationToken);
    }

    public Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) =>
        CanRollback ? RollbackAsync(request, Of(request), snapshot, cancellationToken) : throw new NotSupportedException($"{Action} cannot be undone.");

    public Task CommitAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) => CommitAsync(request, Of(request), snapshot, cancellationToken);

    public virtual string DescribeDrift(SnapshotState approved, SnapshotState current) => Consent.Compare(approved, current);

    protected abstract string Describe(ActionRequest request, TParameters parameters);

    protected abstract Task<SnapshotState> SnapshotAsync(ActionRequest request, TParameters parameters, CancellationToken cancellationToken);

    protected abstract Task<ActionResult> ExecuteAsync(ActionRequest request, TParameters parameters, SnapshotState snapshot, CancellationToken cancellationToken);

    protected virtual Task<string> RollbackAsync(ActionRequest request, TParameters parameters, SnapshotState snapshot, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{Action} cannot be undone.");

    protected virtual Task CommitAsync(ActionRequest request, TParameters parameters, SnapshotState snapshot, CancellationToken cancellationToken) => Task.CompletedTask;

    private static TParameters Of(ActionRequest request) => ParameterBinder.Bind<TParameters>(request.Parameters);
}

/// <summary>A probe with typed parameters, bound and checked once at start like an action's.</summary>
public abstract class Probe<TParameters> : IProbe where TParameters : class, new()
{
    public abstract string Key { get; }

    public abstract string Unit { get; }

    public abstract IReadOnlySet<TargetKind> TargetKinds { get; }

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        var faults = ParameterBinder.TryBind<TParameters>(parameters, out var value);
        return faults.Count > 0 ? faults : Check(value!);
    }

    protected virtual IEnumerable<string> Check(TParameters parameters) => [];

    public virtual IEnumerable<string> ValidateTarget(string targetKey, ResolvedTarget target) => [];

    public Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken) =>
        ReadAsync(request, ParameterBinder.Bind<TParameters>(request.Parameters), cancellationToken);

    protected abstract Task<double> ReadAsync(ProbeRequest request, TParameters parameters, CancellationToken cancellationToken);
}
