using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.RegularExpressions;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;

namespace Grace.Engine.Adapters.Unleash;

/// <summary>The name of a flag in Unleash: what its admin API accepts in a URL.</summary>
public static partial class UnleashFlagName
{
    [GeneratedRegex("^[A-Za-z0-9._~-]{1,100}$")]
    private static partial Regex Pattern();

    public static IEnumerable<ValidationResult> Check(string flag, string member)
    {
        if (!string.IsNullOrEmpty(flag) && !Pattern().IsMatch(flag))
        {
            yield return new ValidationResult($"'{flag}' is not an Unleash flag name (1 to 100 letters, digits, '.', '_', '~' or '-').", [member]);
        }
    }
}

/// <summary>The parameters of <c>unleash.set-flag</c>.</summary>
public sealed class SetUnleashFlagParameters : IValidatableObject
{
    [Required(ErrorMessage = "is required (the flag's name in Unleash).")]
    public string Flag { get; init; } = "";

    [Required(ErrorMessage = "must be true or false.")]
    public bool? Enabled { get; init; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) => UnleashFlagName.Check(Flag, nameof(Flag));
}

/// <summary>
/// <c>unleash.set-flag</c>: turns a flag on or off in the target's environment through Unleash's
/// admin API (a kill switch thrown, a broken feature turned off). The snapshot keeps whether it was
/// on, which the rollback sets again. An approval holds for the flag as the approvers saw it: turned
/// on or off by someone else since, it needs a new decision. SDKs see the change once Unleash's
/// client cache and their own poll interval catch up, so a contract on <c>unleash.flag-enabled</c>
/// gives them some seconds.
/// </summary>
public sealed class SetUnleashFlagAction(UnleashApi unleash) : RemediationAction<SetUnleashFlagParameters>
{
    public override string Action => "unleash.set-flag";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(UnleashKind.Id);
    public override bool CanRollback => true;

    private static UnleashTarget Target(ActionRequest request) => request.Target.Settings<UnleashTarget>();

    protected override string Describe(ActionRequest request, SetUnleashFlagParameters p) =>
        $"Turns Unleash flag '{p.Flag}' {(p.Enabled == true ? "on" : "off")} in environment {Target(request).Environment} of project '{Target(request).Project}' "
        + $"at {Target(request).Url.GetLeftPart(UriPartial.Path).TrimEnd('/')}; the rollback sets it back.";

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, SetUnleashFlagParameters p, CancellationToken cancellationToken)
    {
        var flag = await unleash.ReadAsync(Target(request), p.Flag, cancellationToken);
        var basis = new FlagSwitch(flag.Flag, flag.Project, flag.Environment, flag.Enabled);
        var strategies = flag.Strategies == 1 ? "1 strategy" : $"{flag.Strategies} strategies";
        return Consent.Snapshot(JsonSerializer.Serialize(basis), $"Flag '{flag.Flag}' is {(flag.Enabled ? "on" : "off")} in {flag.Environment} (project '{flag.Project}', {strategies}).",
            basis, flag.Describe());
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<FlagSwitch>(approved) is { } was && Consent.Read<FlagSwitch>(current) is { } now
            ? $"flag '{now.Flag}' was turned {(now.Enabled ? "on" : "off")} in {now.Environment} since the approvers saw it {(was.Enabled ? "on" : "off")}"
            : Consent.Compare(approved, current);

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, SetUnleashFlagParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var target = Target(request);
        var was = JsonSerializer.Deserialize<FlagSwitch>(snapshot.State)!;
        await unleash.SetAsync(target, p.Flag, p.Enabled!.Value, cancellationToken);
        return new ActionResult(
            $"Flag '{p.Flag}' turned {(p.Enabled.Value ? "on" : "off")} in {target.Environment} (it was {(was.Enabled ? "on" : "off")}); SDKs see it once Unleash's client cache and their poll interval catch up.",
            JsonSerializer.Serialize(new { flag = p.Flag, environment = target.Environment, enabled = p.Enabled, was = was.Enabled }));
    }

    protected override async Task<string> RollbackAsync(ActionRequest request, SetUnleashFlagParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var target = Target(request);
        var was = JsonSerializer.Deserialize<FlagSwitch>(snapshot.State)!;
        await unleash.SetAsync(target, was.Flag, was.Enabled, cancellationToken);
        return $"Flag '{was.Flag}' is {(was.Enabled ? "on" : "off")} again in {was.Environment}, as before.";
    }

    /// <summary>What turning a flag depends on, and what its rollback restores: whether it is on in the environment.</summary>
    internal sealed record FlagSwitch(string Flag, string Project, string Environment, bool Enabled);
}

/// <summary>The parameters of <c>unleash.flag-enabled</c>.</summary>
public sealed class UnleashFlagParameters : IValidatableObject
{
    [Required(ErrorMessage = "is required (the flag's name in Unleash).")]
    public string Flag { get; init; } = "";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) => UnleashFlagName.Check(Flag, nameof(Flag));
}

/// <summary>
/// <c>unleash.flag-enabled</c>: 1 when SDKs of the target's environment are served the flag
/// enabled, read from the client API (the payload SDKs poll) with the target's client token. This
/// is what the users of the flag get, after Unleash's client cache, not merely what was stored, so
/// a contract passes only once clients can see the change.
/// </summary>
public sealed class UnleashFlagProbe(UnleashApi unleash) : Probe<UnleashFlagParameters>
{
    public override string Key => "unleash.flag-enabled";
    public override string Unit => "on";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(UnleashKind.Id);

    public override IEnumerable<string> ValidateTarget(string targetKey, ResolvedTarget target) =>
        target.KindSettings is UnleashTarget { ClientToken: null }
            ? [$"probe '{Key}' reads the flag as SDKs are served it, with a client token: set Grace:Targets:{targetKey}:ClientToken (or ClientTokenVariable), a backend token of the target's Environment."]
            : [];

    protected override async Task<double> ReadAsync(ProbeRequest request, UnleashFlagParameters p, CancellationToken cancellationToken) =>
        await unleash.ServedEnabledAsync(request.Target.Settings<UnleashTarget>(), p.Flag, cancellationToken) ? 1 : 0;
}
