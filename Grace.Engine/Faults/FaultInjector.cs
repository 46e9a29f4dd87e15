using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Missions;
using Grace.Engine.Targets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Faults;

/// <summary>Whether the fault-injection demo is on (<c>Grace:Faults:Enabled</c>; on by default in Development).</summary>
public sealed class FaultOptions
{
    public const string Section = "Grace:Faults";

    public bool Enabled { get; set; }

    /// <summary>
    /// The Http target Grace serves itself as a demo service (a health endpoint, an orders endpoint
    /// and an admin endpoint) on its loopback Url, so the health-endpoint fault has a real endpoint to break.
    /// </summary>
    public string DemoServiceTarget { get; set; } = "demo-orders-api";
}

/// <summary>A target a fault could be injected into, or why it cannot be now.</summary>
public sealed record FaultTarget(string Key, string? Description, string? Unavailable);

/// <summary>
/// Injects the faults the adapter modules offer (<see cref="IFaultDemo"/>) into real targets so a
/// person can watch Grace notice and heal them. Admins only, off unless enabled, audited; a target
/// that is unconfigured, of another kind or on another instance is refused before a demo is reached.
/// </summary>
public sealed class FaultInjector(
    IOptionsMonitor<FaultOptions> options,
    IEnumerable<IFaultDemo> demos,
    TargetRegistry targets,
    Cluster.GraceInstance instance,
    Cluster.TargetPlacement placement,
    Audit.AuditTrail audit)
{
    private readonly IReadOnlyList<IFaultDemo> _demos = demos.ToList();

    public bool Enabled => options.CurrentValue.Enabled;

    /// <summary>The faults the adapter modules offer, in the order they registered.</summary>
    public IReadOnlyList<FaultInfo> Kinds => _demos.Select(d => d.Info).ToList();

    private IFaultDemo DemoOf(FaultKind kind) => _demos.FirstOrDefault(d => d.Info.Kind == kind)
        ?? throw new MissionOperationException(string.IsNullOrWhiteSpace(kind.Name)
            ? $"kind is required: one of {string.Join(", ", _demos.Select(d => d.Info.Kind))}."
            : $"'{kind}' is not a fault; use one of {string.Join(", ", _demos.Select(d => d.Info.Kind))}.");

    /// <summary>The configured targets a fault applies to, each with the reason it cannot be broken now, if any.</summary>
    public IReadOnlyList<FaultTarget> TargetsFor(FaultKind kind)
    {
        var demo = DemoOf(kind);
        var result = new List<FaultTarget>();
        foreach (var key in targets.Keys.Order(StringComparer.OrdinalIgnoreCase))
        {
            var target = targets.Resolve(key);
            if (target.Kind != demo.Info.TargetKind)
            {
                continue;
            }

            var unavailable = targets.Unconfigured(key) ?? ElsewhereInCluster(target) ?? demo.Unavailable(target);
            result.Add(new FaultTarget(key, target.Description, unavailable));
        }

        return result;
    }

    /// <summary>A fault on a host-bound target is made on its own machine: from the console of the instance it lives on.</summary>
    private string? ElsewhereInCluster(ResolvedTarget target) => !placement.Owns(target.Options)
        ? $"It lives on instance '{placement.InstanceOf(target.Options)}'; break it from the console of that instance (this is {instance.Name})."
        : null;

    /// <summary>The size a sized fault uses when none is given and its module cannot compute one, in MiB.</summary>
    public const int DefaultMegabytes = 8;

    /// <summary>The largest size a sized fault may have, in MiB.</summary>
    public const int MaxMegabytes = 512;

    /// <summary>
    /// The size offered (and used when none is given) for a fault on a target: enough to cross the
    /// target's configured health threshold where the module can compute it, else <see cref="DefaultMegabytes"/>.
    /// </summary>
    public int DefaultMegabytesFor(FaultKind kind, string? targetKey)
    {
        var demo = DemoOf(kind);
        var computed = targetKey is not null && targets.TryResolve(targetKey, out var target) && target.Kind == demo.Info.TargetKind
            ? demo.MegabytesToBreak(target)
            : null;
        return Math.Clamp(computed ?? DefaultMegabytes, 1, MaxMegabytes);
    }

    /// <summary>
    /// Injects a fault and returns what was done. A refusal (not an Admin, a target the fault does
    /// not apply to, a size out of range) is a <see cref="MissionOperationException"/> and is audited too.
    /// </summary>
    public async Task<string> InjectAsync(FaultKind kind, string targetKey, int? megabytes, Actor actor, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            throw new MissionOperationException("Fault injection is off (Grace:Faults:Enabled).");
        }

        string result;
        try
        {
            result = await InjectCheckedAsync(kind, targetKey, megabytes, actor, cancellationToken);
        }
        catch (MissionOperationException ex)
        {
            await AuditAsync(actor, "fault.inject-refused", targetKey, $"{kind}: {ex.Message}", cancellationToken);
            throw;
        }

        await AuditAsync(actor, "fault.inject", targetKey, $"{kind}: {result}", cancellationToken);
        return result;
    }

    private async Task<string> InjectCheckedAsync(FaultKind kind, string targetKey, int? megabytes, Actor actor, CancellationToken cancellationToken)
    {
        if (!actor.Can(Permission.Administer))
        {
            throw new MissionOperationException($"{actor.Name} may not inject faults: it needs the Admin role.", forbidden: true);
        }

        var demo = DemoOf(kind);
        var info = demo.Info;
        if (!targets.TryResolve(targetKey, out var target))
        {
            var candidates = TargetsFor(kind).Select(t => t.Key).ToList();
            throw new MissionOperationException($"Target '{targetKey}' is not configured under Grace:Targets; {kind} applies to "
                + (candidates.Count == 0 ? $"no configured target (it needs a {info.TargetKind} target)." : $"{string.Join(", ", candidates)}."));
        }

        if ((targets.Unconfigured(targetKey) ?? ElsewhereInCluster(target)) is { } unavailable)
        {
            throw new MissionOperationException(unavailable);
        }

        var size = megabytes ?? DefaultMegabytesFor(kind, targetKey);
        if (info.HasSize && (size < 1 || size > MaxMegabytes))
        {
            throw new MissionOperationException($"megabytes must be between 1 and {MaxMegabytes} for {kind} (it is {size}).");
        }

        if (target.Kind != info.TargetKind)
        {
            throw new MissionOperationException($"Fault {kind} does not apply to '{targetKey}', a {target.Kind} target; it needs a {info.TargetKind} target.");
        }

        if (demo.Unavailable(target) is { } notNow)
        {
            throw new MissionOperationException(notNow);
        }

        return await demo.InjectAsync(target, size, cancellationToken);
    }

    // Whatever a caller typed is cut to the columns' sizes by the trail: a refusal must be recorded, not fail.
    private Task AuditAsync(Actor actor, string action, string targetKey, string detail, CancellationToken cancellationToken) =>
        audit.WriteAsync(actor, action, $"target/{targetKey}", detail, cancellationToken);
}
