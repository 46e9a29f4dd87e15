using Grace.Engine.Verify;

namespace Grace.Engine.Execute;

/// <summary>The registered executors and probes, by key.</summary>
public sealed class ExecutorCatalog(IEnumerable<IRemediationExecutor> executors, IEnumerable<IProbe> probes)
{
    public IReadOnlyDictionary<string, IRemediationExecutor> Executors { get; } =
        executors.ToDictionary(e => e.Action, StringComparer.OrdinalIgnoreCase);

    public IReadOnlyDictionary<string, IProbe> Probes { get; } =
        probes.ToDictionary(p => p.Key, StringComparer.OrdinalIgnoreCase);

    public IRemediationExecutor Executor(string action) => Executors.TryGetValue(action, out var e)
        ? e : throw new InvalidOperationException($"No executor for action '{action}'.");

    public IProbe Probe(string key) => Probes.TryGetValue(key, out var p)
        ? p : throw new InvalidOperationException($"No probe '{key}'.");
}
