using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using k8s;
using k8s.Models;

namespace Grace.Engine.Adapters.Kubernetes;

/// <summary>The parameters of <c>kubernetes.delete-crashlooping-pods</c>.</summary>
public sealed class DeleteCrashLoopingParameters
{
    /// <summary>The most pods one mission deletes: a controller replaces them, but not all at once is kinder to the service.</summary>
    [Range(1, 20, ErrorMessage = "must be a whole number between 1 and 20.")]
    public int MaxPods { get; init; } = 1;
}

/// <summary>
/// <c>kubernetes.delete-crashlooping-pods</c>: deletes the target's pods that wait in
/// CrashLoopBackOff (the most restarted first, at most <c>MaxPods</c>), as <c>kubectl delete pod</c>
/// does (<c>propagationPolicy: Background</c>), so their controller starts fresh ones. Only pods of
/// the snapshot that still crash-loop are deleted. A deleted pod cannot be brought back. An approval
/// holds for the crash-looping pods the approvers saw: others crash-looping (or these recovered)
/// since need a new decision.
/// </summary>
public sealed class DeleteCrashLoopingPodsAction(KubernetesApi api) : KubernetesAction<DeleteCrashLoopingParameters>(api)
{
    public override string Action => "kubernetes.delete-crashlooping-pods";
    public override bool CanRollback => false;
    protected override bool NeedsWorkload => false;

    protected override string Describe(ActionRequest request, DeleteCrashLoopingParameters p) =>
        $"Deletes up to {p.MaxPods} pod(s) of {Settings(request).Describe()} that are in CrashLoopBackOff, so their controller starts fresh ones.";

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, DeleteCrashLoopingParameters p, CancellationToken cancellationToken)
    {
        var pods = await Api.PodsAsync(request.Target, cancellationToken);
        var looping = pods.Where(PodStates.IsCrashLooping).OrderByDescending(PodStates.Restarts).ThenBy(x => x.Metadata.Name, StringComparer.Ordinal).ToList();
        var seen = new CrashLoopingPods([.. looping.Select(x => $"{x.Metadata.Name}/{x.Metadata.Uid}").Order(StringComparer.Ordinal)]);
        var words = looping.Count == 0 ? "no pod in CrashLoopBackOff"
            : $"{looping.Count} pod(s) in CrashLoopBackOff: {Consent.Names([.. looping.Select(x => $"{x.Metadata.Name} ({PodStates.Restarts(x)} restarts)")])}";
        return Consent.Snapshot(JsonSerializer.Serialize(looping.Select(x => new LoopingPod(x.Metadata.Name, x.Metadata.Uid, PodStates.Restarts(x))).ToList()),
            $"{pods.Count} pod(s) of {Settings(request).Describe()}; {words}.", seen, words);
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<CrashLoopingPods>(approved) is { } was && Consent.Read<CrashLoopingPods>(current) is { } now
            ? $"the crash-looping pods changed since the approval: {Consent.Names([.. was.Pods.Select(NameOf)])} → {(now.Pods.Count == 0 ? "none" : Consent.Names([.. now.Pods.Select(NameOf)]))}"
            : Consent.Compare(approved, current);

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, DeleteCrashLoopingParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var settings = Settings(request);
        var approved = JsonSerializer.Deserialize<List<LoopingPod>>(snapshot.State)!.Select(x => x.Uid).ToHashSet(StringComparer.Ordinal);
        var pods = await Api.PodsAsync(request.Target, cancellationToken);
        var doomed = pods.Where(x => approved.Contains(x.Metadata.Uid) && PodStates.IsCrashLooping(x))
            .OrderByDescending(PodStates.Restarts).Take(p.MaxPods).ToList();
        if (doomed.Count == 0)
        {
            return new ActionResult($"No pod of {settings.Describe()} that the snapshot saw is in CrashLoopBackOff any more: nothing was deleted.");
        }

        var deleted = new List<string>();
        foreach (var pod in doomed)
        {
            // As kubectl deletes: its dependants go in the background, the pod's own grace period is honoured.
            var name = pod.Metadata.Name;
            await Api.CallAsync(request.Target, $"DELETE pod {settings.Namespace}/{name}",
                (k, ct) => k.CoreV1.DeleteNamespacedPodAsync(name, settings.Namespace, new V1DeleteOptions { PropagationPolicy = "Background" }, cancellationToken: ct), cancellationToken);
            deleted.Add($"{name} ({PodStates.Restarts(pod)} restarts)");
        }

        return new ActionResult($"Deleted {deleted.Count} crash-looping pod(s) of {settings.Describe()}: {string.Join(", ", deleted)}; their controller starts fresh ones.",
            JsonSerializer.Serialize(new { deleted = doomed.Select(x => x.Metadata.Name) }));
    }

    private static string NameOf(string podAndUid) => podAndUid.Split('/')[0];

    private sealed record LoopingPod(string Name, string Uid, int Restarts);

    /// <summary>What the deletion depends on: which pods (name and uid) crash-loop.</summary>
    internal sealed record CrashLoopingPods(IReadOnlyList<string> Pods);
}

/// <summary>The parameters of <c>kubernetes.cordon-node</c>.</summary>
public sealed class CordonParameters : IValidatableObject
{
    /// <summary>The node to cordon; without it, the one node all the target's failing pods run on.</summary>
    public string? Node { get; init; }

    /// <summary>Schedulable, ready nodes that must remain besides this one; a cordon that would leave fewer is refused.</summary>
    [Range(0, 1000, ErrorMessage = "must be a whole number between 0 and 1000.")]
    public int MinSchedulableNodes { get; init; } = 1;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Node is { } node && !KubernetesNames.IsName(node))
        {
            yield return new ValidationResult($"'{node}' is not a node name (a lowercase DNS name).", [nameof(Node)]);
        }
    }
}

/// <summary>The parameters of <c>kubernetes.uncordon-node</c>.</summary>
public sealed class UncordonParameters : IValidatableObject
{
    [Required(ErrorMessage = "is required: the node to make schedulable again.")]
    public string Node { get; init; } = "";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Node.Length > 0 && !KubernetesNames.IsName(Node))
        {
            yield return new ValidationResult($"'{Node}' is not a node name (a lowercase DNS name).", [nameof(Node)]);
        }
    }
}

/// <summary>
/// Marks a node (un)schedulable as <c>kubectl cordon</c> and <c>uncordon</c> do: a strategic-merge
/// patch of <c>spec.unschedulable</c> (<c>true</c>, or <c>null</c> to clear it). Pods already on the
/// node keep running; only new ones go elsewhere. The rollback puts back what the snapshot saw. An
/// approval holds for the node and its state as the approvers saw them.
/// </summary>
public abstract class NodeSchedulingAction<TParameters>(KubernetesApi api) : KubernetesAction<TParameters>(api) where TParameters : class, new()
{
    public override bool CanRollback => true;
    protected override bool NeedsWorkload => false;

    /// <summary>True to cordon (unschedulable), false to uncordon.</summary>
    protected abstract bool Cordons { get; }

    /// <summary>The node this use acts on.</summary>
    protected abstract Task<string> NodeAsync(ActionRequest request, TParameters p, CancellationToken cancellationToken);

    /// <summary>A last check before the patch (a cordon that would leave too few nodes).</summary>
    protected virtual Task CheckAsync(ActionRequest request, TParameters p, string node, CancellationToken cancellationToken) => Task.CompletedTask;

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, TParameters p, CancellationToken cancellationToken)
    {
        var name = await NodeAsync(request, p, cancellationToken);
        var node = await Api.CallAsync(request.Target, $"GET node {name}", (k, ct) => k.CoreV1.ReadNodeAsync(name, cancellationToken: ct), cancellationToken);
        var state = new NodeState(name, node.Spec?.Unschedulable ?? false);
        return Consent.Snapshot(JsonSerializer.Serialize(state), $"Node {state.Describe()}.", state, state.Describe());
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<NodeState>(approved) is { } was && Consent.Read<NodeState>(current) is { } now
            ? $"the node changed since the approval: {was.Describe()} → {now.Describe()}"
            : Consent.Compare(approved, current);

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, TParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var seen = JsonSerializer.Deserialize<NodeState>(snapshot.State)!;
        if (seen.Unschedulable == Cordons)
        {
            return new ActionResult($"Node {seen.Name} was already {(Cordons ? "cordoned" : "schedulable")}: nothing changed.");
        }

        await CheckAsync(request, p, seen.Name, cancellationToken);
        await PatchAsync(request, seen.Name, Cordons, cancellationToken);
        return new ActionResult(Cordons
            ? $"Cordoned node {seen.Name}: no new pod is scheduled there; the pods on it keep running."
            : $"Uncordoned node {seen.Name}: it takes new pods again.", JsonSerializer.Serialize(new { node = seen.Name, unschedulable = Cordons }));
    }

    protected override async Task<string> RollbackAsync(ActionRequest request, TParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var seen = JsonSerializer.Deserialize<NodeState>(snapshot.State)!;
        if (seen.Unschedulable == Cordons)
        {
            return $"Node {seen.Name} was {(Cordons ? "cordoned" : "schedulable")} before: nothing to put back.";
        }

        await PatchAsync(request, seen.Name, seen.Unschedulable, cancellationToken);
        return $"Node {seen.Name} is {(seen.Unschedulable ? "cordoned" : "schedulable")} again, as before.";
    }

    private async Task PatchAsync(ActionRequest request, string name, bool unschedulable, CancellationToken cancellationToken)
    {
        // kubectl clears the field (null) to uncordon rather than writing false.
        var body = unschedulable ? """{"spec":{"unschedulable":true}}""" : """{"spec":{"unschedulable":null}}""";
        var patch = new V1Patch(body, V1Patch.PatchType.StrategicMergePatch);
        await Api.CallAsync(request.Target, $"PATCH node {name} (unschedulable {unschedulable.ToString().ToLowerInvariant()})",
            (k, ct) => k.CoreV1.PatchNodeAsync(patch, name, cancellationToken: ct), cancellationToken);
    }

    /// <summary>What a (un)cordon depends on: which node, and whether it takes new pods.</summary>
    internal sealed record NodeState(string Name, bool Unschedulable)
    {
        public string Describe() => $"{Name} {(Unschedulable ? "cordoned (unschedulable)" : "schedulable")}";
    }
}

/// <summary>
/// <c>kubernetes.cordon-node</c>: cordons <c>Node</c>, or, without it, the one node on which all the
/// target's failing pods (crash-looping or not running) are; pods failing on several nodes are not
/// one node's fault, and the cordon is refused. So is a cordon that would leave fewer than
/// <c>MinSchedulableNodes</c> other ready, schedulable nodes. The rollback uncordons it.
/// </summary>
public sealed class CordonNodeAction(KubernetesApi api) : NodeSchedulingAction<CordonParameters>(api)
{
    public override string Action => "kubernetes.cordon-node";
    protected override bool Cordons => true;

    protected override string Describe(ActionRequest request, CordonParameters p) =>
        $"Cordons {(p.Node is { } node ? $"node {node}" : $"the node all failing pods of {Settings(request).Describe()} run on")}, so no new pod is scheduled there (keeping at least {p.MinSchedulableNodes} other schedulable node(s)); the rollback uncordons it.";

    protected override async Task<string> NodeAsync(ActionRequest request, CordonParameters p, CancellationToken cancellationToken)
    {
        if (p.Node is { } named)
        {
            return named;
        }

        var failing = (await Api.PodsAsync(request.Target, cancellationToken)).Where(x => !PodStates.IsRunning(x) && x.Spec?.NodeName is not null).ToList();
        var nodes = failing.Select(x => x.Spec.NodeName).Distinct(StringComparer.Ordinal).ToList();
        return nodes.Count switch
        {
            1 => nodes[0],
            0 => throw new ActionRefusedException($"No failing pod of {Settings(request).Describe()} is placed on a node: nothing says which node to cordon (name it with Parameters:Node)."),
            _ => throw new ActionRefusedException($"The failing pods of {Settings(request).Describe()} are on {nodes.Count} nodes ({Consent.Names(nodes)}): not one node's fault, so none is cordoned (name one with Parameters:Node to cordon it anyway)."),
        };
    }

    protected override async Task CheckAsync(ActionRequest request, CordonParameters p, string node, CancellationToken cancellationToken)
    {
        if (p.MinSchedulableNodes == 0)
        {
            return;
        }

        var nodes = await Api.CallAsync(request.Target, "GET nodes", (k, ct) => k.CoreV1.ListNodeAsync(cancellationToken: ct), cancellationToken);
        var others = nodes.Items.Count(n => n.Metadata.Name != node && n.Spec?.Unschedulable != true
            && n.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true);
        if (others < p.MinSchedulableNodes)
        {
            throw new ActionRefusedException($"Cordoning {node} would leave {others.ToString(CultureInfo.InvariantCulture)} other ready, schedulable node(s), fewer than MinSchedulableNodes ({p.MinSchedulableNodes}): refused.");
        }
    }
}

/// <summary><c>kubernetes.uncordon-node</c>: makes <c>Node</c> schedulable again; the rollback cordons it again.</summary>
public sealed class UncordonNodeAction(KubernetesApi api) : NodeSchedulingAction<UncordonParameters>(api)
{
    public override string Action => "kubernetes.uncordon-node";
    protected override bool Cordons => false;

    protected override string Describe(ActionRequest request, UncordonParameters p) =>
        $"Uncordons node {p.Node}, so new pods may be scheduled there again; the rollback cordons it again.";

    protected override Task<string> NodeAsync(ActionRequest request, UncordonParameters p, CancellationToken cancellationToken) => Task.FromResult(p.Node);
}
