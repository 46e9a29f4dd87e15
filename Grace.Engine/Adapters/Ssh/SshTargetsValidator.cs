using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Microsoft.Extensions.Configuration;

namespace Grace.Engine.Adapters.Ssh;

/// <summary>
/// Checks Host targets at start, each fault naming its key: the pinned fingerprint's form, the
/// port, a private key that cannot be read, every declared command (each placeholder a declared
/// parameter with a known type), and every playbook, contract and health check that runs one
/// (a declared command, each value of its type: <c>; rm -rf /</c> never gets past here).
/// </summary>
public sealed class SshTargetsValidator(IConfiguration configuration, PathResolver paths) : ITargetKindValidator
{
    public IEnumerable<string> Validate(CatalogOptions catalog)
    {
        var errors = new List<string>();
        foreach (var (key, target) in catalog.Targets.Where(t => t.Value.Kind == TargetKind.Host))
        {
            var at = $"Grace:Targets:{key}";
            var settings = SshTargets.Of(configuration, key);
            ValidateCommands(at, settings, errors);
            if (SshTargets.Missing(target) is not null)
            {
                continue; // Reported by the catalog (or an optional target left unconfigured).
            }

            if (!SshTargets.IsFingerprint(target.HostKeyFingerprint!.Trim()))
            {
                errors.Add($"{at}:HostKeyFingerprint '{target.HostKeyFingerprint}' is not a SHA256 fingerprint: give it as ssh-keygen -lf prints it, 'SHA256:' and 43 base64 characters (ssh-keyscan HOST | ssh-keygen -lf -).");
            }

            if (settings.Port is < 1 or > 65535)
            {
                errors.Add($"{at}:Port must be between 1 and 65535 (it is {settings.Port}).");
            }

            if (settings.ConnectTimeoutSeconds is < 1 or > 120)
            {
                errors.Add($"{at}:ConnectTimeoutSeconds must be between 1 and 120 (it is {settings.ConnectTimeoutSeconds}).");
            }

            var keyFile = paths.Resolve(target.PrivateKeyFile!);
            try
            {
                using var _ = new Renci.SshNet.PrivateKeyFile(keyFile);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Renci.SshNet.Common.SshException or ArgumentException)
            {
                errors.Add($"{at}:PrivateKeyFile: {keyFile} cannot be used as a private key: {ex.Message}");
            }
        }

        var actionTimeout = configuration.GetValue<int?>("Grace:Engine:ActionTimeoutSeconds") ?? new EngineOptions().ActionTimeoutSeconds;
        foreach (var (key, playbook) in catalog.Playbooks.Where(p => p.Value.Action == "ssh.run"))
        {
            var command = ValidateUse($"Grace:Playbooks:{key}", playbook.Target, playbook.Parameters, catalog, errors);
            // A playbook on an optional host left unconfigured never runs: its timing is checked once the host is configured.
            var idle = catalog.Targets.TryGetValue(playbook.Target, out var host) && host.Optional && SshTargets.Missing(host) is not null;
            if (command is not null && !idle && command.TimeoutSeconds + 20 >= actionTimeout)
            {
                errors.Add($"Grace:Playbooks:{key}:Parameters:Command: '{playbook.Parameters["Command"]}' may run {command.TimeoutSeconds} s (its TimeoutSeconds), and with signing in Grace:Engine:ActionTimeoutSeconds ({actionTimeout}) would cut it off; lower it or raise that.");
            }

            if (playbook.Contract is { Probe: "ssh.read" } contract)
            {
                ValidateUse($"Grace:Playbooks:{key}:Contract", contract.Target ?? playbook.Target, contract.Parameters, catalog, errors);
            }
        }

        foreach (var (key, playbook) in catalog.Playbooks.Where(p => p.Value.Action != "ssh.run" && p.Value.Contract is { Probe: "ssh.read" }))
        {
            ValidateUse($"Grace:Playbooks:{key}:Contract", playbook.Contract!.Target ?? playbook.Target, playbook.Contract.Parameters, catalog, errors);
        }

        foreach (var (key, target) in catalog.Targets.Where(t => t.Value.HealthCheck is { Probe: "ssh.read" }))
        {
            ValidateUse($"Grace:Targets:{key}:HealthCheck", key, target.HealthCheck!.Parameters, catalog, errors);
        }

        return errors;
    }

    private static void ValidateCommands(string at, SshTargetSettings settings, List<string> errors)
    {
        foreach (var (name, command) in settings.Commands)
        {
            var where = $"{at}:Commands:{name}";
            if (string.IsNullOrWhiteSpace(command.Command))
            {
                errors.Add($"{where}:Command is required (a template such as \"systemctl restart {{Unit}}\").");
                continue;
            }

            if (command.TimeoutSeconds is < 1 or > 3600)
            {
                errors.Add($"{where}:TimeoutSeconds must be between 1 and 3600 (it is {command.TimeoutSeconds}).");
            }

            foreach (var (template, field) in new[] { (command.Command, "Command"), (command.Undo, "Undo") })
            {
                foreach (var placeholder in template is null ? [] : SshCommandTemplate.Placeholders(template))
                {
                    if (!command.Parameters.ContainsKey(placeholder))
                    {
                        errors.Add($"{where}:{field} uses {{{placeholder}}}, which is not declared: add {where}:Parameters:{placeholder}:Type ({string.Join(", ", SshCommandTemplate.Types)}).");
                    }
                }
            }

            foreach (var (parameter, options) in command.Parameters)
            {
                if (string.IsNullOrWhiteSpace(options.Type))
                {
                    errors.Add($"{where}:Parameters:{parameter}:Type is required: one of {string.Join(", ", SshCommandTemplate.Types)}.");
                }
                else if (!SshCommandTemplate.Types.Contains(options.Type))
                {
                    errors.Add($"{where}:Parameters:{parameter}:Type '{options.Type}' is not one of {string.Join(", ", SshCommandTemplate.Types)}.");
                }
                else if (options.Type == "Choice" && options.Values.Count == 0)
                {
                    errors.Add($"{where}:Parameters:{parameter}:Values must list the choices of a Choice parameter.");
                }
                else if (options.Default is { } value && SshCommandTemplate.Check(parameter, value, options) is { } problem)
                {
                    errors.Add($"{where}:Parameters:{parameter}:Default: {problem}");
                }
            }
        }
    }

    /// <summary>A playbook's (or contract's, or health check's) use of a declared command: the command exists, and each value fits its type.</summary>
    private SshCommandOptions? ValidateUse(string at, string targetKey, Dictionary<string, string> parameters, CatalogOptions catalog, List<string> errors)
    {
        if (!catalog.Targets.TryGetValue(targetKey, out var target) || target.Kind != TargetKind.Host)
        {
            return null; // The catalog says what is wrong with the target.
        }

        if (!parameters.TryGetValue("Command", out var name) || string.IsNullOrWhiteSpace(name))
        {
            return null; // The action's own parameter check says Command is required.
        }

        var settings = SshTargets.Of(configuration, targetKey);
        if (!settings.Commands.TryGetValue(name, out var command) || command.Command is null)
        {
            errors.Add($"{at}:Parameters:Command: '{name}' is not declared under Grace:Targets:{targetKey}:Commands; declared: {(settings.Commands.Count == 0 ? "none" : string.Join(", ", settings.Commands.Keys.Order(StringComparer.Ordinal)))}.");
            return null;
        }

        var problems = new List<string>();
        SshCommandTemplate.Values(command, parameters, ["Command"], problems);
        errors.AddRange(problems.Select(p => $"{at}:{p}"));
        return command;
    }
}
