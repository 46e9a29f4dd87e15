using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Grace.Engine.Adapters.Grace;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Verify;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.FeatureManagement;

namespace Grace.Engine.Adapters.FeatureFlags;

/// <summary>The parameters of <c>feature-flag.set</c>.</summary>
public sealed class SetFlagParameters
{
    [Required(ErrorMessage = "is required (a flag name under FeatureManagement).")]
    public string Flag { get; init; } = "";

    [Required(ErrorMessage = "must be true or false.")]
    public bool? Enabled { get; init; }
}

/// <summary>
/// <c>feature-flag.set</c>: turns a flag on or off through a persisted override; the snapshot keeps
/// the previous override, which the rollback restores. An approval holds for the flag's value the
/// approvers saw: turned on or off by someone else since, it needs a new approval.
/// </summary>
public sealed class SetFlagAction(FeatureFlagOverrides overrides, IFeatureManager features) : RemediationAction<SetFlagParameters>
{
    public override string Action => "feature-flag.set";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(GraceKind.Id);
    public override bool CanRollback => true;

    protected override string Describe(ActionRequest request, SetFlagParameters p) =>
        $"Turns feature flag '{p.Flag}' {(p.Enabled == true ? "on" : "off")} (persisted; the previous setting is kept for rollback).";

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, SetFlagParameters p, CancellationToken cancellationToken)
    {
        var now = await features.IsEnabledAsync(p.Flag);
        var previous = await overrides.OverrideOfAsync(p.Flag);
        var value = new FlagValue(p.Flag, now);
        return Consent.Snapshot(JsonSerializer.Serialize(new FlagState(p.Flag, previous)),
            $"Flag '{p.Flag}' is {(now ? "on" : "off")}" + (previous is null ? " (from configuration)." : " (overridden)."), value, value.Describe());
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<FlagValue>(approved) is { } was && Consent.Read<FlagValue>(current) is { } now
            ? $"flag '{now.Flag}' was turned {(now.Enabled ? "on" : "off")} since the approvers saw it {(was.Enabled ? "on" : "off")}"
            : Consent.Compare(approved, current);

    /// <summary>What setting a flag depends on: its value now.</summary>
    internal sealed record FlagValue(string Flag, bool Enabled)
    {
        public string Describe() => $"flag '{Flag}' {(Enabled ? "on" : "off")}";
    }

    protected override async Task<ActionResult> ExecuteAsync(ActionRequest request, SetFlagParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        await overrides.SetAsync(p.Flag, p.Enabled, $"mission/{request.MissionId}", cancellationToken);
        return new ActionResult($"Flag '{p.Flag}' is now {(await features.IsEnabledAsync(p.Flag) ? "on" : "off")}.");
    }

    protected override async Task<string> RollbackAsync(ActionRequest request, SetFlagParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var state = JsonSerializer.Deserialize<FlagState>(snapshot.State)!;
        await overrides.SetAsync(state.Flag, state.Override, $"mission/{request.MissionId}", cancellationToken);
        return $"Flag '{state.Flag}' restored to {(state.Override is null ? "its configured value" : state.Override.Value ? "on" : "off")}.";
    }

    private sealed record FlagState(string Flag, bool? Override);
}

/// <summary>The parameters of <c>feature-flag.enabled</c>.</summary>
public sealed class FlagParameters
{
    [Required(ErrorMessage = "is required.")]
    public string Flag { get; init; } = "";
}

/// <summary><c>feature-flag.enabled</c>: 1 when the flag named by <c>Flag</c> is on.</summary>
public sealed class FlagEnabledProbe(IFeatureManager features) : Probe<FlagParameters>
{
    public override string Key => "feature-flag.enabled";
    public override string Unit => "on";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(GraceKind.Id);

    protected override async Task<double> ReadAsync(ProbeRequest request, FlagParameters p, CancellationToken cancellationToken) =>
        await features.IsEnabledAsync(p.Flag) ? 1 : 0;
}

public static class FeatureFlagExtensions
{
    /// <summary>Feature flags (Microsoft.FeatureManagement) with overrides persisted in Grace's database; the action and the probe.</summary>
    public static IServiceCollection AddFeatureFlagActions(this IServiceCollection services)
    {
        services.AddFeatureManagement();
        services.AddSingleton<FeatureFlagOverrides>();
        services.RemoveAll<IFeatureDefinitionProvider>();
        services.AddSingleton<IFeatureDefinitionProvider>(sp => sp.GetRequiredService<FeatureFlagOverrides>());
        services.AddSingleton<IRemediationExecutor, SetFlagAction>();
        services.AddSingleton<IProbe, FlagEnabledProbe>();
        return services;
    }
}
