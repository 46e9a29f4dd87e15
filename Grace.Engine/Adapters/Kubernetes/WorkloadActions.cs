using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using k8s;
using k8s.Models;

namespace Grace.Engine.Adapters.Kubernetes;

/// <summary>What every Kubernetes action shares: its kind of target, the API, and what it needs of the target.</summary>
public abstract class KubernetesAction<TParameters>(KubernetesApi api) : RemediationAction<TParameters> where TParameters : class, new()
{
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(KubernetesKind.Id);

    protected KubernetesApi Api => api;

    /// <summary>True for actions on a workload (a selector-only target has none).</summary>
    protected virtual bool NeedsWorkload => true;

    protected override IEnumerable<string> ValidateUse(ResolvedTarget target, TParameters parameters) =>
        NeedsWorkload && target.KindSettings is KubernetesTarget { Workload: null }
            ? [$"Target: {Action} acts on a workload, and Grace:Targets:{target.Key} names only a Selector; set its Workload (Deployment/<name> or StatefulSet/<name>)."]
            : [];

    protected static KubernetesTarget Settings(ActionRequest request) => request.Target.Settings<KubernetesTarget>();

    /// <summary>The URL path segment of a workload kind (<c>deployments</c>, <c>statefulsets</c>).</summary>
    protected static string Plural(WorkloadKind kind) => kind == WorkloadKind.Deployment ? "deployments" : "statefulsets";
}

/// <summary>
/// <c>kubernetes.rollout-restart</c>: restarts a Deployment's or StatefulSet's pods the way
/// <c>kubectl rollout restart</c> does: a strategic-merge patch (field manager <c>kubectl-rollout</c>,
/// as kubectl sends it) setting <c>kubectl.kubernetes.io/restartedAt</c> on the pod template, so
/// the controller replaces the pods following the workload's own update strategy. It returns once
/// the API server took the change; the playbook's contract (ready replicas, rollout progress) is
/// what waits for the pods. A restart cannot be undone. An approval holds for the workload as the
/// approvers saw it: its generation and last restart; a spec changed or restarted since needs a
/// new decision. A paused Deployment is refused, as kubectl refuses it.
/// </summary>
public sealed class RolloutRestartAction(KubernetesApi api, TimeProvider time) : KubernetesAction<NoParameters>(api)
{
    /// <summary>The field manager kubectl's own restart uses: the annotation is then owned alike whoever restarted last.</summary>
    public const string FieldManager = "kubectl-rollout";

    public override string Action => "kubernetes.rollout-restart";
    public override bool CanRollback => false;

    protected override string Describe(ActionRequest request, NoParameters p) =>
        $"Restarts the pods of {Settings(request).Describe()} as 'kubectl rollout restart' does: a new restartedAt annotation on its pod template, so its controller replaces the pods one rollout at a time.";

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, NoParameters p, CancellationToken cancellationToken)
    {
        var workload = await Api.WorkloadAsync(request.Target, cancellationToken);
        var identity = new RolloutIdentity(workload.Generation, workload.RestartedAt);
        return Consent.Snapshot(JsonSerializer.Serialize(new { workload.Generation, workload.RestartedAt, workload.Ready, workload.Desired }),
            $"{workload.Ref}: {workload.Describe()}; last restarted {workload.RestartedAt ?? "never"}.", identity, identity.Describe());
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<RolloutIdentity>(approved) is { } was && Consent.Read<RolloutIdentity>(current) is { } now
            ? $"the workload changed since the approval: {was.Describe()} → {now.Describe()}"
            : Consent.Compare(approved, current);

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, NoParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var settings = Settings(request);
        var workload = await Api.WorkloadAsync(request.Target, cancellationToken);
        if (workload.Paused)
        {
            throw new ActionRefusedException($"{workload.Ref} is paused: a restart would wait until someone resumes it ('kubectl rollout resume'), so Grace does not restart it.");
        }

        // kubectl writes the time in RFC 3339 to the second; a new value is what makes the controller roll.
        var at = time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var patch = new V1Patch(JsonSerializer.Serialize(new
        {
            spec = new { template = new { metadata = new { annotations = new Dictionary<string, string> { [Workload.RestartedAtAnnotation] = at } } } },
        }), V1Patch.PatchType.StrategicMergePatch);
        var ns = settings.Namespace;
        var name = workload.Ref.Name;
        var what = $"PATCH {Plural(workload.Ref.Kind)} {ns}/{name} (restartedAt)";
        long? generation = workload.Ref.Kind == WorkloadKind.Deployment
            ? (await Api.CallAsync(request.Target, what, (k, ct) => k.AppsV1.PatchNamespacedDeploymentAsync(patch, name, ns, fieldManager: FieldManager, cancellationToken: ct), cancellationToken)).Metadata.Generation
            : (await Api.CallAsync(request.Target, what, (k, ct) => k.AppsV1.PatchNamespacedStatefulSetAsync(patch, name, ns, fieldManager: FieldManager, cancellationToken: ct), cancellationToken)).Metadata.Generation;
        return new ActionResult(
            $"Restarted {workload.Ref} in {ns}: restartedAt {at} (generation {workload.Generation} → {generation?.ToString(CultureInfo.InvariantCulture) ?? "?"}); its controller now replaces the pods.",
            JsonSerializer.Serialize(new { restartedAt = at, generation }));
    }

    /// <summary>What a restart depends on: the workload's spec (its generation) and its last restart.</summary>
    internal sealed record RolloutIdentity(long Generation, string? RestartedAt)
    {
        public string Describe() => $"generation {Generation}, last restarted {RestartedAt ?? "never"}";
    }
}

/// <summary>The parameters of <c>kubernetes.scale</c>: an absolute count, or a change, never above <see cref="MaxReplicas"/>.</summary>
public sealed class ScaleParameters : IValidatableObject
{
    /// <summary>The replica count to set.</summary>
    public int? Replicas { get; init; }

    /// <summary>Replicas to add (or, negative, to remove) from the count the snapshot saw.</summary>
    public int? Add { get; init; }

    /// <summary>The most replicas Grace will ever ask for, whatever the count it started from.</summary>
    [Range(1, 1000, ErrorMessage = "must be a whole number between 1 and 1000.")]
    public int MaxReplicas { get; init; } = 20;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Replicas is null == Add is null)
        {
            yield return new ValidationResult("give either Replicas (the count to set) or Add (the change), not both and not neither.", [nameof(Replicas)]);
        }

        if (Replicas is < 0 || Replicas > MaxReplicas)
        {
            yield return new ValidationResult($"must be between 0 and MaxReplicas ({MaxReplicas}).", [nameof(Replicas)]);
        }

        if (Add == 0)
        {
            yield return new ValidationResult("must not be 0: a change of nothing changes nothing.", [nameof(Add)]);
        }
    }

    /// <summary>The count to set when the workload has <paramref name="current"/> replicas; a refusal outside 0..MaxReplicas.</summary>
    public int Wanted(int current, WorkloadRef workload)
    {
        var wanted = Replicas ?? current + Add!.Value;
        return wanted >= 0 && wanted <= MaxReplicas ? wanted
            : throw new ActionRefusedException($"Scaling {workload} from {current} by {Add:+0;-0} would make {wanted} replicas, outside 0..{MaxReplicas} (MaxReplicas).");
    }
}

/// <summary>
/// <c>kubernetes.scale</c>: sets a Deployment's or StatefulSet's replica count through its scale
/// subresource, with the merge patch kubectl sends (<c>{"spec":{"replicas":N}}</c>). The snapshot
/// keeps the count it saw; the rollback puts it back, unless someone (an autoscaler, a person)
/// changed the count since Grace set it, in which case it leaves their count and says so. An
/// approval holds for the count the approvers saw. The new count never exceeds <c>MaxReplicas</c>,
/// and a workload a HorizontalPodAutoscaler sizes is refused: the autoscaler would take the count back.
/// </summary>
public sealed class ScaleAction(KubernetesApi api) : KubernetesAction<ScaleParameters>(api)
{
    public override string Action => "kubernetes.scale";
    public override bool CanRollback => true;

    protected override string Describe(ActionRequest request, ScaleParameters p) =>
        $"Scales {Settings(request).Describe()} " + (p.Replicas is { } n ? $"to {n} replicas" : $"by {p.Add:+0;-0} replicas") + $" (never above {p.MaxReplicas}); the rollback restores the count it had.";

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, ScaleParameters p, CancellationToken cancellationToken)
    {
        var workload = await Api.WorkloadAsync(request.Target, cancellationToken);
        var count = new ReplicaCount(workload.Desired);
        return Consent.Snapshot(JsonSerializer.Serialize(new ScaleSnapshot(workload.Desired)),
            $"{workload.Ref}: {workload.Describe()}.", count, $"{workload.Desired} replicas wanted");
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<ReplicaCount>(approved) is { } was && Consent.Read<ReplicaCount>(current) is { } now
            ? $"the replica count changed from {was.Replicas} to {now.Replicas} since the approval"
            : Consent.Compare(approved, current);

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, ScaleParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var before = JsonSerializer.Deserialize<ScaleSnapshot>(snapshot.State)!.Replicas;
        var workload = Settings(request).Workload!;
        var wanted = p.Wanted(before, workload);
        await RefuseUnderAutoscalerAsync(request, workload, cancellationToken);
        await PatchReplicasAsync(request, wanted, cancellationToken);
        return new ActionResult($"Scaled {workload} in {Settings(request).Namespace} from {before} to {wanted} replicas.", JsonSerializer.Serialize(new { before, after = wanted }));
    }

    protected override async Task<string> RollbackAsync(ActionRequest request, ScaleParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var before = JsonSerializer.Deserialize<ScaleSnapshot>(snapshot.State)!.Replicas;
        var set = p.Wanted(before, Settings(request).Workload!);
        var now = (await Api.WorkloadAsync(request.Target, cancellationToken)).Desired;
        if (now != set && now != before)
        {
            // Someone else scaled it since: their count is newer knowledge than Grace's snapshot.
            throw new ActionRefusedException($"{Settings(request).Workload} now wants {now} replicas, set by someone else after Grace set {set}: left as it is rather than put back to {before}.");
        }

        await PatchReplicasAsync(request, before, cancellationToken);
        return $"Scaled {Settings(request).Workload} back from {now} to {before} replicas.";
    }

    /// <summary>
    /// A workload a HorizontalPodAutoscaler scales is its to size: the autoscaler would set its own
    /// count back within a minute, and Grace's contract would pass or fail by chance. kubectl scale
    /// does not look; Grace does, and says which autoscaler to change instead.
    /// </summary>
    private async Task RefuseUnderAutoscalerAsync(ActionRequest request, WorkloadRef workload, CancellationToken cancellationToken)
    {
        var ns = Settings(request).Namespace;
        var autoscalers = await Api.CallAsync(request.Target, $"GET horizontalpodautoscalers {ns}",
            (k, ct) => k.AutoscalingV2.ListNamespacedHorizontalPodAutoscalerAsync(ns, cancellationToken: ct), cancellationToken);
        var owner = autoscalers.Items.FirstOrDefault(h => h.Spec?.ScaleTargetRef is { } target
            && string.Equals(target.Kind, workload.Kind.ToString(), StringComparison.Ordinal) && target.Name == workload.Name);
        if (owner is not null)
        {
            throw new ActionRefusedException(
                $"{workload} is scaled by the HorizontalPodAutoscaler {owner.Metadata.Name} ({owner.Spec.MinReplicas ?? 1} to {owner.Spec.MaxReplicas} replicas), which would undo Grace's count; change its minReplicas or maxReplicas instead.");
        }
    }

    private async Task PatchReplicasAsync(ActionRequest request, int replicas, CancellationToken cancellationToken)
    {
        var settings = Settings(request);
        var workload = settings.Workload!;
        var ns = settings.Namespace;
        var patch = new V1Patch(JsonSerializer.Serialize(new { spec = new { replicas } }), V1Patch.PatchType.MergePatch);
        var what = $"PATCH {Plural(workload.Kind)} {ns}/{workload.Name}/scale (replicas {replicas})";
        _ = workload.Kind == WorkloadKind.Deployment
            ? await Api.CallAsync(request.Target, what, (k, ct) => k.AppsV1.PatchNamespacedDeploymentScaleAsync(patch, workload.Name, ns, cancellationToken: ct), cancellationToken)
            : await Api.CallAsync(request.Target, what, (k, ct) => k.AppsV1.PatchNamespacedStatefulSetScaleAsync(patch, workload.Name, ns, cancellationToken: ct), cancellationToken);
    }

    private sealed record ScaleSnapshot(int Replicas);

    /// <summary>What a scale depends on: the replica count the workload wants.</summary>
    internal sealed record ReplicaCount(int Replicas);
}

/// <summary>
/// <c>kubernetes.rollout-undo</c>: takes a workload back to its previous revision, as
/// <c>kubectl rollout undo</c> does. For a Deployment: the ReplicaSet of the second-newest
/// revision (among those the Deployment controls) gives its pod template back, without the
/// <c>pod-template-hash</c> label, in a JSON patch that replaces <c>/spec/template</c> and
/// <c>/metadata/annotations</c>. For a StatefulSet: the previous ControllerRevision's data is sent as
/// a strategic-merge patch. The rollback sends the template the snapshot saw, the same way. An
/// approval holds for the revisions the approvers saw (current and previous). A paused Deployment,
/// or one without an earlier revision, is refused; one already on the previous template is left alone.
/// </summary>
public sealed class RolloutUndoAction(KubernetesApi api) : KubernetesAction<NoParameters>(api)
{
    public const string RevisionAnnotation = "deployment.kubernetes.io/revision";
    private const string HashLabel = "pod-template-hash";

    // The annotations a Deployment keeps as they are over an undo (kubectl keeps the same ones);
    // the others come back from the revision's ReplicaSet, which copied them when it was made.
    private static readonly HashSet<string> KeptAnnotations =
    [
        "kubectl.kubernetes.io/last-applied-configuration", RevisionAnnotation, "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to",
    ];

    public override string Action => "kubernetes.rollout-undo";
    public override bool CanRollback => true;

    protected override string Describe(ActionRequest request, NoParameters p) =>
        $"Takes {Settings(request).Describe()} back to its previous revision's pod template, as 'kubectl rollout undo' does; the rollback restores the template it has now.";

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, NoParameters p, CancellationToken cancellationToken)
    {
        var (workload, history) = await HistoryAsync(request, cancellationToken);
        var revisions = new Revisions(history.Current, history.Previous?.Number);
        var state = new UndoSnapshot(KubernetesJson.Serialize(workload.Template), new Dictionary<string, string>(workload.Annotations), history.Current);
        var previous = history.Previous is { } prev ? $"revision {prev.Number} ({Images(prev.Template)})" : "none";
        return Consent.Snapshot(JsonSerializer.Serialize(state),
            $"{workload.Ref} is at revision {history.Current?.ToString(CultureInfo.InvariantCulture) ?? "?"} ({Images(workload.Template)}); previous: {previous}; {workload.Describe()}.",
            revisions, revisions.Describe());
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<Revisions>(approved) is { } was && Consent.Read<Revisions>(current) is { } now
            ? $"the rollout history changed since the approval: {was.Describe()} → {now.Describe()}"
            : Consent.Compare(approved, current);

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, NoParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var (workload, history) = await HistoryAsync(request, cancellationToken);
        if (workload.Paused)
        {
            throw new ActionRefusedException($"{workload.Ref} is paused: kubectl refuses to roll back a paused Deployment, and so does Grace ('kubectl rollout resume' first).");
        }

        var previous = history.Previous ?? throw new ActionRefusedException($"{workload.Ref} has no earlier revision to go back to (revision {history.Current?.ToString(CultureInfo.InvariantCulture) ?? "?"} is its only one).");
        if (SameTemplate(previous.Template, workload.Template))
        {
            return new ActionResult($"{workload.Ref} already runs the template of revision {previous.Number}: nothing to undo.");
        }

        await SendTemplateAsync(request, workload, previous.Template, previous.Annotations, previous.StatefulSetPatch, cancellationToken);
        return new ActionResult($"Rolled {workload.Ref} in {Settings(request).Namespace} back from revision {history.Current?.ToString(CultureInfo.InvariantCulture) ?? "?"} ({Images(workload.Template)}) to revision {previous.Number} ({Images(previous.Template)}).",
            JsonSerializer.Serialize(new { from = history.Current, to = previous.Number }));
    }

    protected override async Task<string> RollbackAsync(ActionRequest request, NoParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var state = JsonSerializer.Deserialize<UndoSnapshot>(snapshot.State)!;
        var template = KubernetesJson.Deserialize<V1PodTemplateSpec>(state.Template);
        var workload = await Api.WorkloadAsync(request.Target, cancellationToken);
        if (SameTemplate(template, workload.Template))
        {
            return $"{workload.Ref} already runs the template it had before the undo.";
        }

        // A StatefulSet takes its template back as its own revisions store it: the whole template, replaced.
        var statefulSetPatch = JsonSerializer.Serialize(new { spec = new { template = WithReplace(template) } });
        await SendTemplateAsync(request, workload, template, state.Annotations, statefulSetPatch, cancellationToken);
        return $"Put {workload.Ref} back on the template it ran before the undo ({Images(template)}).";
    }

    private async Task SendTemplateAsync(ActionRequest request, Workload workload, V1PodTemplateSpec template, IDictionary<string, string> revisionAnnotations, string statefulSetPatch, CancellationToken cancellationToken)
    {
        var ns = Settings(request).Namespace;
        var name = workload.Ref.Name;
        if (workload.Ref.Kind == WorkloadKind.StatefulSet)
        {
            var patch = new V1Patch(statefulSetPatch, V1Patch.PatchType.StrategicMergePatch);
            await Api.CallAsync(request.Target, $"PATCH statefulsets {ns}/{name} (template)",
                (k, ct) => k.AppsV1.PatchNamespacedStatefulSetAsync(patch, name, ns, cancellationToken: ct), cancellationToken);
            return;
        }

        var annotations = workload.Annotations.Where(a => KeptAnnotations.Contains(a.Key))
            .Concat(revisionAnnotations.Where(a => !KeptAnnotations.Contains(a.Key)))
            .ToDictionary(a => a.Key, a => a.Value);
        var operations = new object[]
        {
            new { op = "replace", path = "/spec/template", value = JsonSerializer.Deserialize<JsonElement>(KubernetesJson.Serialize(WithoutHash(template))) },
            new { op = "replace", path = "/metadata/annotations", value = annotations },
        };
        var json = new V1Patch(JsonSerializer.Serialize(operations), V1Patch.PatchType.JsonPatch);
        await Api.CallAsync(request.Target, $"PATCH deployments {ns}/{name} (template)",
            (k, ct) => k.AppsV1.PatchNamespacedDeploymentAsync(json, name, ns, cancellationToken: ct), cancellationToken);
    }

    /// <summary>The workload and its two newest revisions.</summary>
    private async Task<(Workload Workload, History History)> HistoryAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var workload = await Api.WorkloadAsync(request.Target, cancellationToken);
        var ns = Settings(request).Namespace;
        var selector = workload.Selector.ToString();
        if (workload.Ref.Kind == WorkloadKind.Deployment)
        {
            var sets = await Api.CallAsync(request.Target, $"GET replicasets {ns} ({selector})",
                (k, ct) => k.AppsV1.ListNamespacedReplicaSetAsync(ns, labelSelector: selector, cancellationToken: ct), cancellationToken);
            var owned = sets.Items
                .Where(rs => rs.Metadata.OwnerReferences?.Any(o => o.Controller == true && o.Uid == workload.Uid) == true)
                .Select(rs => (Number: rs.Metadata.Annotations?.TryGetValue(RevisionAnnotation, out var text) == true && long.TryParse(text, CultureInfo.InvariantCulture, out var n) ? n : -1, Set: rs))
                .Where(r => r.Number >= 0)
                .OrderByDescending(r => r.Number)
                .ToList();
            var previous = owned.Count > 1
                ? new Revision(owned[1].Number, owned[1].Set.Spec.Template, owned[1].Set.Metadata.Annotations ?? new Dictionary<string, string>(), "")
                : null;
            return (workload, new History(workload.Revision ?? (owned.Count > 0 ? owned[0].Number : null), previous));
        }

        var revisions = await Api.CallAsync(request.Target, $"GET controllerrevisions {ns} ({selector})",
            (k, ct) => k.AppsV1.ListNamespacedControllerRevisionAsync(ns, labelSelector: selector, cancellationToken: ct), cancellationToken);
        var history = revisions.Items
            .Where(r => r.Metadata.OwnerReferences?.Any(o => o.Controller == true && o.Uid == workload.Uid) == true)
            .OrderByDescending(r => r.Revision)
            .ToList();
        Revision? before = null;
        if (history.Count > 1)
        {
            var data = KubernetesJson.Serialize(history[1].Data);
            var template = JsonDocument.Parse(data).RootElement.GetProperty("spec").GetProperty("template");
            before = new Revision(history[1].Revision ?? 0, KubernetesJson.Deserialize<V1PodTemplateSpec>(template.GetRawText()), new Dictionary<string, string>(), data);
        }

        return (workload, new History(history.Count > 0 ? history[0].Revision : null, before));
    }

    private static V1PodTemplateSpec WithoutHash(V1PodTemplateSpec template)
    {
        var copy = KubernetesJson.Deserialize<V1PodTemplateSpec>(KubernetesJson.Serialize(template));
        copy.Metadata?.Labels?.Remove(HashLabel);
        return copy;
    }

    private static JsonElement WithReplace(V1PodTemplateSpec template)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(KubernetesJson.Serialize(template))!.AsObject();
        node.Insert(0, "$patch", "replace");
        return JsonSerializer.Deserialize<JsonElement>(node.ToJsonString());
    }

    /// <summary>Two pod templates are the same once the controller's hash label is left out.</summary>
    private static bool SameTemplate(V1PodTemplateSpec a, V1PodTemplateSpec b) =>
        System.Text.Json.Nodes.JsonNode.DeepEquals(
            System.Text.Json.Nodes.JsonNode.Parse(KubernetesJson.Serialize(WithoutHash(a))),
            System.Text.Json.Nodes.JsonNode.Parse(KubernetesJson.Serialize(WithoutHash(b))));

    private static string Images(V1PodTemplateSpec template) => string.Join(", ", template.Spec?.Containers?.Select(c => c.Image) ?? []);

    private sealed record Revision(long Number, V1PodTemplateSpec Template, IDictionary<string, string> Annotations, string StatefulSetPatch);

    private sealed record History(long? Current, Revision? Previous);

    private sealed record UndoSnapshot(string Template, Dictionary<string, string> Annotations, long? Revision);

    /// <summary>What an undo depends on: the revision the workload is at, and the one it would go back to.</summary>
    internal sealed record Revisions(long? Current, long? Previous)
    {
        public string Describe() => $"at revision {Current?.ToString(CultureInfo.InvariantCulture) ?? "?"}, previous {Previous?.ToString(CultureInfo.InvariantCulture) ?? "none"}";
    }
}
