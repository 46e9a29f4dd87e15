using System.Text.RegularExpressions;
using Grace.Data;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Configuration;

/// <summary>
/// Checks targets, patterns and playbooks at start. Every fault names its configuration key, so a
/// broken <c>appsettings.json</c> stops Grace with a message that says what to fix and where.
/// </summary>
public sealed class CatalogValidator(ExecutorCatalog executors, PathResolver paths, CacheRoots cacheRoots, IConfiguration configuration, Cluster.GraceInstance instance, GraceDatabaseInfo database,
    IEnumerable<ITargetKindValidator> kindValidators)
    : IValidateOptions<CatalogOptions>
{
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
        foreach (var (key, target) in options.Targets)
        {
            var at = $"Grace:Targets:{key}";
            if (!target.Optional && TargetRegistry.Missing(target) is { } missing)
            {
                errors.Add($"{at}:{missing.Setting} {missing.Why}.");
            }

            var idle = (target.Optional && TargetRegistry.Missing(target) is not null) || TargetRegistry.IsIdleGraceDatabase(target, database.Provider);
            var demoService = string.Equals(key, configuration["Grace:Faults:DemoServiceTarget"] ?? "demo-orders-api", StringComparison.OrdinalIgnoreCase);
            if (instance.IsClustered && (target.IsHostBound || demoService) && instance.InstanceOf(target) is null && !idle)
            {
                errors.Add(demoService && !target.IsHostBound
                    ? $"{at}:Instance is required in a cluster: Grace serves this demo service itself, on one instance. Name it (its Grace:Cluster:InstanceName), or set Grace:Cluster:DefaultTargetInstance for every such target."
                    : $"{at}:Instance is required in a cluster: a {target.Kind} target lives on one machine, so name the instance that acts on it (its Grace:Cluster:InstanceName), or set Grace:Cluster:DefaultTargetInstance for every such target.");
            }

            if (target.HealthCheck is { } check)
            {
                ValidateProbeUse($"{at}:HealthCheck", check.Probe, check.Parameters, key, target, errors);
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
                errors.AddRange(Verify.Benchmarks.LatencySampler.Validate(target.Benchmarks[i], target).Select(e => $"{at}:Benchmarks:{i}:{e}"));
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

        errors.AddRange(kindValidators.SelectMany(v => v.Validate(options)));

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>A probe named by a contract or a health check: known, able to read that kind of target, with valid parameters.</summary>
    private void ValidateProbeUse(string at, string probeKey, IReadOnlyDictionary<string, string> parameters, string targetKey, TargetOptions? target, List<string> errors)
    {
        if (!executors.Probes.TryGetValue(probeKey, out var probe))
        {
            errors.Add($"{at}:Probe: unknown probe '{probeKey}'; known probes: {string.Join(", ", executors.Probes.Keys.Order())}.");
            return;
        }

        if (target is not null && !probe.TargetKinds.Contains(target.Kind))
        {
            errors.Add($"{at}:Probe: probe '{probe.Key}' reads {string.Join(" or ", probe.TargetKinds)} targets, and '{targetKey}' is {target.Kind}.");
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

        if (!executors.Executors.TryGetValue(playbook.Action, out var executor))
        {
            errors.Add($"{at}:Action: unknown action '{playbook.Action}'; known actions: {string.Join(", ", executors.Executors.Keys.Order())}.");
        }

        TargetOptions? target = null;
        if (string.IsNullOrWhiteSpace(playbook.Target))
        {
            errors.Add($"{at}:Target is required.");
        }
        else if (!options.Targets.TryGetValue(playbook.Target, out target))
        {
            errors.Add($"{at}:Target: target '{playbook.Target}' is not defined under Grace:Targets.");
        }

        if (executor is not null)
        {
            if (target is not null && !executor.TargetKinds.Contains(target.Kind))
            {
                errors.Add($"{at}:Target: action '{executor.Action}' works on {string.Join(" or ", executor.TargetKinds)} targets, and '{playbook.Target}' is {target.Kind}.");
            }

            errors.AddRange(executor.ValidateParameters(playbook.Parameters).Select(e => $"{at}:{e}"));
            var actionTimeout = configuration.GetValue<int?>("Grace:Engine:ActionTimeoutSeconds") ?? new EngineOptions().ActionTimeoutSeconds;
            if (executor is Supervision.ProcessRestartExecutor && Supervision.ProcessRestartExecutor.LongestSeconds(playbook.Parameters, target) is var longest && longest >= actionTimeout)
            {
                errors.Add($"{at}:Parameters: a restart may take {longest:0.#} s (StopTimeoutSeconds, then HealthTimeoutSeconds or SettleSeconds), and Grace:Engine:ActionTimeoutSeconds ({actionTimeout}) would cut it off; lower them or raise it.");
            }
            if (executor is CacheDirectoryExecutor && target is { Kind: TargetKind.Directory, Path: { } path } && cacheRoots.OutsideRoots(paths.Resolve(path)) is { } refusal)
            {
                errors.Add($"{at}:Target: {refusal}");
            }
        }

        if (playbook.Contract is not { } contract)
        {
            errors.Add($"{at}:Contract is required: every action states the measurable effect it promises.");
            return;
        }

        var probeTargetKey = contract.Target ?? playbook.Target;
        if (contract.Target is not null && !options.Targets.ContainsKey(contract.Target))
        {
            errors.Add($"{at}:Contract:Target: target '{contract.Target}' is not defined under Grace:Targets.");
        }
        else
        {
            ValidateProbeUse($"{at}:Contract", contract.Probe, contract.Parameters, probeTargetKey, options.Targets.GetValueOrDefault(probeTargetKey), errors);
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
}

/// <summary>
/// A target kind's own checks of its settings (and of the playbooks, contracts and health checks that
/// use its actions and probes), each message naming its key. Registered by the kind's module.
/// </summary>
public interface ITargetKindValidator
{
    IEnumerable<string> Validate(CatalogOptions catalog);
}
