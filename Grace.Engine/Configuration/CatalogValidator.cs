using System.Text.RegularExpressions;
using Grace.Engine.Adapters;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Configuration;

/// <summary>
/// Checks targets, patterns and playbooks at start. Every fault names its configuration key, so a
/// broken <c>appsettings.json</c> stops Grace with a message that says what to fix and where.
/// </summary>
public sealed class CatalogValidator(ExecutorCatalog executors, TargetKinds targets, Verify.Benchmarks.LatencySampler benchmarks,
    IConfiguration configuration, Cluster.GraceInstance instance)
    : IValidateOptions<CatalogOptions>
{
    private readonly Dictionary<string, ResolvedTarget> _resolved = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A target as its kind binds it, from the options being checked (the monitor is not ready yet).</summary>
    private ResolvedTarget? Resolve(string key, CatalogOptions options) =>
        options.Targets.TryGetValue(key, out var target) ? _resolved.TryGetValue(key, out var known) ? known
            : _resolved[key] = new ResolvedTarget(key, target.Kind, target.Description, target, targets.SettingsOf(key, target).Value) : null;

    public ValidateOptionsResult Validate(string? name, CatalogOptions options)
    {
        var errors = new List<string>();
        // The binder skips a dictionary entry whose value cannot be converted ("Tier": "high");
        // binding each entry alone brings the fault, with its key, back to light.
        ReportUnbindable<TargetOptions>("Grace:Targets", errors);
        foreach (var target in configuration.GetSection("Grace:Targets").GetChildren())
        {
            // A list element that does not convert is dropped as silently: a benchmark would vanish.
            ReportUnbindable<Verify.Benchmarks.BenchmarkOptions>($"{target.Path}:Benchmarks", errors);
        }

        ReportUnbindable<PatternOptions>("Grace:Patterns", errors);
        ReportUnbindable<PlaybookOptions>("Grace:Playbooks", errors);
        foreach (var playbook in configuration.GetSection("Grace:Playbooks").GetChildren())
        {
            // A step that does not convert would vanish from the runbook.
            ReportUnbindable<RunbookStepOptions>($"{playbook.Path}:Steps", errors);
        }

        for (var i = 0; i < options.ReservedSources.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(options.ReservedSources[i]) || options.ReservedSources[i].Length > Grace.Data.Entities.ApiKey.MaxLimitEntryLength)
            {
                errors.Add($"Grace:ReservedSources:{i} must be a source prefix of 1 to {Grace.Data.Entities.ApiKey.MaxLimitEntryLength} characters.");
            }
        }

        foreach (var (key, target) in options.Targets)
        {
            var at = $"Grace:Targets:{key}";
            if (target.Kind.IsEmpty)
            {
                errors.Add($"{at}:Kind is required (one of the target kinds Grace knows).");
                continue;
            }

            var settings = targets.SettingsOf(key, target);
            errors.AddRange(settings.Faults.Select(f => $"{at}:{f}"));
            if (!target.Optional && settings.Missing is { } missing)
            {
                errors.Add($"{at}:{missing.Setting} {missing.Why}.");
            }

            var idle = (target.Optional && settings.Missing is not null) || settings.Idle is not null;
            var hostBound = targets.IsHostBound(target);
            var demoService = string.Equals(key, configuration["Grace:Faults:DemoServiceTarget"] ?? "demo-orders-api", StringComparison.OrdinalIgnoreCase);
            if (instance.IsClustered && (hostBound || demoService) && instance.InstanceOf(target) is null && !idle)
            {
                errors.Add(demoService && !hostBound
                    ? $"{at}:Instance is required in a cluster: Grace serves this demo service itself, on one instance. Name it (its Grace:Cluster:InstanceName), or set Grace:Cluster:DefaultTargetInstance for every such target."
                    : $"{at}:Instance is required in a cluster: a {target.Kind} target lives on one machine, so name the instance that acts on it (its Grace:Cluster:InstanceName), or set Grace:Cluster:DefaultTargetInstance for every such target.");
            }

            if (target.HealthCheck is { } check)
            {
                ValidateProbeUse($"{at}:HealthCheck", check.Probe, check.Parameters, key, Resolve(key, options), errors);
                if (check.IntervalSeconds is < 1 or > 86_400)
                {
                    errors.Add($"{at}:HealthCheck:IntervalSeconds must be between 1 and 86400 (it is {check.IntervalSeconds:G}).");
                }

                if (check.FailureThreshold is < 1 or > 100)
                {
                    errors.Add($"{at}:HealthCheck:FailureThreshold must be between 1 and 100 (it is {check.FailureThreshold}).");
                }
            }

            for (var i = 0; i < target.Benchmarks.Count; i++)
            {
                errors.AddRange(benchmarks.Validate(target.Benchmarks[i], Resolve(key, options)!).Select(e => $"{at}:Benchmarks:{i}:{e}"));
            }
        }

        foreach (var (key, pattern) in options.Patterns)
        {
            var at = $"Grace:Patterns:{key}";
            if (pattern.Playbooks.Count == 0)
            {
                errors.Add($"{at}:Playbooks must name at least one playbook.");
            }

            for (var i = 0; i < pattern.Playbooks.Count; i++)
            {
                if (!options.Playbooks.ContainsKey(pattern.Playbooks[i]))
                {
                    errors.Add($"{at}:Playbooks:{i}: playbook '{pattern.Playbooks[i]}' is not defined under Grace:Playbooks.");
                }
            }

            if (pattern.MessageRegex is { Length: > 0 } regex)
            {
                try
                {
                    _ = new Regex(regex, RegexOptions.None, TimeSpan.FromMilliseconds(100));
                }
                catch (ArgumentException ex)
                {
                    errors.Add($"{at}:MessageRegex is not a valid regular expression: {ex.Message}");
                }
            }

            if (pattern.Escalation is { } escalation)
            {
                ValidateEscalation($"{at}:Escalation", escalation, errors);
            }

            if (pattern.Target is { Length: > 0 } t && !options.Targets.ContainsKey(t))
            {
                errors.Add($"{at}:Target: target '{t}' is not defined under Grace:Targets.");
            }

            if (string.IsNullOrWhiteSpace(pattern.ExceptionType) && string.IsNullOrWhiteSpace(pattern.MessageRegex)
                && string.IsNullOrWhiteSpace(pattern.Source) && pattern.Labels.Count == 0)
            {
                errors.Add($"{at}: a pattern needs at least one of ExceptionType, MessageRegex, Source or Labels; an empty pattern would match every signal.");
            }
        }

        foreach (var (key, playbook) in options.Playbooks)
        {
            ValidatePlaybook($"Grace:Playbooks:{key}", playbook, options, errors);
        }

        ValidateEscalation("Grace:Engine:Escalation", configuration.GetSection("Grace:Engine:Escalation").Get<EscalationOptions>() ?? new EscalationOptions(), errors);

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>A probe named by a contract or a health check: known, able to read that kind of target, with valid parameters.</summary>
    private void ValidateProbeUse(string at, string probeKey, IReadOnlyDictionary<string, string> parameters, string targetKey, ResolvedTarget? target, List<string> errors)
    {
        if (!executors.Probes.TryGetValue(probeKey, out var probe))
        {
            errors.Add($"{at}:Probe: unknown probe '{probeKey}'; known probes: {string.Join(", ", executors.Probes.Keys.Order())}.");
            return;
        }

        if (target is not null && !probe.TargetKinds.Accepts(target.Kind))
        {
            errors.Add($"{at}:Probe: probe '{probe.Key}' reads {probe.TargetKinds.Describe()} targets, and '{targetKey}' is {target.Kind}.");
        }
        else if (target is not null)
        {
            errors.AddRange(probe.ValidateTarget(targetKey, target).Select(e => $"{at}:Probe: {e}"));
        }

        errors.AddRange(probe.ValidateParameters(parameters).Select(e => $"{at}:{e}"));
    }

    private void ReportUnbindable<T>(string section, List<string> errors)
        where T : new()
    {
        foreach (var child in configuration.GetSection(section).GetChildren())
        {
            try
            {
                child.Get<T>();
            }
            catch (InvalidOperationException ex)
            {
                errors.Add($"{child.Path}: {ex.Message}");
            }
        }
    }

    private void ValidatePlaybook(string at, PlaybookOptions playbook, CatalogOptions options, List<string> errors)
    {
        if (playbook.Tier is < 0 or > 3)
        {
            errors.Add($"{at}:Tier must be 0, 1, 2 or 3 (it is {playbook.Tier}).");
        }

        if (playbook.CooldownSeconds is < 0)
        {
            errors.Add($"{at}:CooldownSeconds must not be negative.");
        }

        if (!playbook.IsRunbook)
        {
            ValidateAction(at, playbook.Action, playbook.Target, playbook.Parameters, playbook.Contract, options, errors);
            return;
        }

        // A runbook's steps carry the actions; a top-level action beside them would be ambiguous.
        foreach (var (key, set) in new[] { ("Action", !string.IsNullOrWhiteSpace(playbook.Action)), ("Target", !string.IsNullOrWhiteSpace(playbook.Target)),
                     ("Parameters", playbook.Parameters.Count > 0), ("Contract", playbook.Contract is not null) })
        {
            if (set)
            {
                errors.Add($"{at}:{key} must be left out of a runbook: each of its Steps has its own.");
            }
        }

        if (playbook.Steps.Count > MaxRunbookSteps)
        {
            errors.Add($"{at}:Steps has {playbook.Steps.Count} steps; a runbook has at most {MaxRunbookSteps}.");
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < playbook.Steps.Count; i++)
        {
            var step = playbook.Steps[i];
            var stepAt = $"{at}:Steps:{i}";
            if (step.Name is { Length: > 100 })
            {
                errors.Add($"{stepAt}:Name must be at most 100 characters.");
            }
            else if (!string.IsNullOrWhiteSpace(step.Name) && !names.Add(step.Name))
            {
                errors.Add($"{stepAt}:Name '{step.Name}' is used by another step of this runbook.");
            }

            ValidateAction(stepAt, step.Action, step.Target, step.Parameters, step.Contract, options, errors);
        }
    }

    /// <summary>The most steps one runbook may have.</summary>
    public const int MaxRunbookSteps = 20;

    private void ValidateAction(string at, string action, string targetKey, Dictionary<string, string> parameters, ContractOptions? contract, CatalogOptions options, List<string> errors)
    {
        if (!executors.Executors.TryGetValue(action, out var executor))
        {
            errors.Add($"{at}:Action: unknown action '{action}'; known actions: {string.Join(", ", executors.Executors.Keys.Order())}.");
        }

        ResolvedTarget? target = null;
        if (string.IsNullOrWhiteSpace(targetKey))
        {
            errors.Add($"{at}:Target is required.");
        }
        else if ((target = Resolve(targetKey, options)) is null)
        {
            errors.Add($"{at}:Target: target '{targetKey}' is not defined under Grace:Targets.");
        }

        if (executor is not null)
        {
            if (target is not null && !executor.TargetKinds.Accepts(target.Kind))
            {
                errors.Add($"{at}:Target: action '{executor.Action}' works on {executor.TargetKinds.Describe()} targets, and '{targetKey}' is {target.Kind}.");
            }

            errors.AddRange(executor.ValidateParameters(parameters).Select(e => $"{at}:{e}"));
            if (target is not null)
            {
                // What this use needs of its target (a cache folder under a cache root, a restart that fits the action timeout).
                errors.AddRange(executor.ValidateUse(target, parameters).Select(e => $"{at}:{e}"));
            }
        }

        if (contract is null)
        {
            errors.Add($"{at}:Contract is required: every action states the measurable effect it promises.");
            return;
        }

        var probeTargetKey = contract.Target ?? targetKey;
        if (contract.Target is not null && !options.Targets.ContainsKey(contract.Target))
        {
            errors.Add($"{at}:Contract:Target: target '{contract.Target}' is not defined under Grace:Targets.");
        }
        else
        {
            ValidateProbeUse($"{at}:Contract", contract.Probe, contract.Parameters, probeTargetKey, Resolve(probeTargetKey, options), errors);
        }

        if (contract.DeadlineSeconds is < 1 or > 86_400)
        {
            errors.Add($"{at}:Contract:DeadlineSeconds must be between 1 and 86400 (it is {contract.DeadlineSeconds}).");
        }

        if (double.IsNaN(contract.Threshold) || double.IsInfinity(contract.Threshold))
        {
            errors.Add($"{at}:Contract:Threshold must be a finite number.");
        }
    }

    /// <summary>The escalation ladder of a pattern, or the engine's default one.</summary>
    private static void ValidateEscalation(string at, EscalationOptions escalation, List<string> errors)
    {
        if (escalation.Retries is < 0 or > 10)
        {
            errors.Add($"{at}:Retries must be between 0 and 10 (it is {escalation.Retries}).");
        }

        if (escalation.RetryDelaySeconds is < 1 or > 86_400)
        {
            errors.Add($"{at}:RetryDelaySeconds must be between 1 and 86400 (it is {escalation.RetryDelaySeconds}).");
        }
    }
}
