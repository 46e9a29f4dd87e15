using System.Globalization;
using Grace.Engine.Configuration;
using Grace.Engine.Verify;
using Grace.Engine.Targets;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Adapters.Ssh;

/// <summary>
/// <c>ssh.read</c>: runs a command declared on the Host target and reads its output as a number
/// (its first word, invariant culture). A command that fails, or prints something else, gives no
/// reading. A reading has the probe pipeline's 10 s in all, so the command gets at most 8 s.
/// </summary>
public sealed class SshReadProbe(SshSessions sessions) : IProbe
{
    public string Key => "ssh.read";
    public string Unit => "value";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(HostKind.Id);

    /// <summary>A command is named; its values are checked against the host's declaration by <see cref="SshReadUses"/>.</summary>
    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters) =>
        parameters.TryGetValue("Command", out var name) && !string.IsNullOrWhiteSpace(name) ? [] : ["Parameters:Command is required: the name of a command declared under the target's Commands."];

    public async Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken)
    {
        var prepared = PreparedCommand.For(request.Target, request.Parameters);
        var limited = prepared with { Options = new SshCommandOptions { Command = prepared.Options.Command, Parameters = prepared.Options.Parameters, TimeoutSeconds = Math.Min(prepared.Options.TimeoutSeconds, 8) } };
        var shown = limited.Shown(limited.Options.Command!);
        var run = await sessions.RunAsync(request.Target.Key, limited.Host, limited.Line(limited.Options.Command!), TimeSpan.FromSeconds(limited.Options.TimeoutSeconds), cancellationToken);
        var output = SshCommandTemplate.Clean(run.Stdout, limited.Secrets, 200);
        if (run.ExitCode is not 0)
        {
            throw new RemoteCommandException($"`{shown}` on {limited.Host.Where} exited with code {run.ExitCode}{(run.TimedOut ? " (timed out)" : "")}: {SshCommandTemplate.FirstLine(SshCommandTemplate.Clean(run.Stderr, limited.Secrets, 200))}");
        }

        var word = output.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        return double.TryParse(word, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
            ? value
            : throw new RemoteCommandException($"`{shown}` on {limited.Host.Where} printed '{SshCommandTemplate.FirstLine(output)}', not a number.");
    }
}

/// <summary>
/// Every contract and health check that reads <c>ssh.read</c> names a command declared on its host,
/// with values of their types: checked at start, like an action's use (a probe's parameters alone
/// cannot tell which host's declarations apply).
/// </summary>
public sealed class SshReadUses(TargetKinds kinds) : IValidateOptions<CatalogOptions>
{
    public ValidateOptionsResult Validate(string? name, CatalogOptions options)
    {
        var errors = new List<string>();
        foreach (var (key, playbook) in options.Playbooks.Where(p => p.Value.Contract is { Probe: "ssh.read" }))
        {
            Check($"Grace:Playbooks:{key}:Contract", playbook.Contract!.Target ?? playbook.Target, playbook.Contract.Parameters, options, errors);
        }

        foreach (var (key, target) in options.Targets.Where(t => t.Value.HealthCheck is { Probe: "ssh.read" }))
        {
            Check($"Grace:Targets:{key}:HealthCheck", key, target.HealthCheck!.Parameters, options, errors);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private void Check(string at, string targetKey, Dictionary<string, string> parameters, CatalogOptions options, List<string> errors)
    {
        if (!options.Targets.TryGetValue(targetKey, out var target) || target.Kind != HostKind.Id
            || kinds.SettingsOf(targetKey, target).Value is not SshTargetSettings host || !parameters.ContainsKey("Command"))
        {
            return; // The catalog says what is wrong with the target or the probe's own parameters.
        }

        var problems = new List<string>();
        PreparedCommand.Check(targetKey, host, parameters, problems);
        errors.AddRange(problems.Select(p => $"{at}:{p}"));
    }
}
