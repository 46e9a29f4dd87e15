using System.Globalization;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Microsoft.Extensions.Configuration;

namespace Grace.Engine.Adapters.Ssh;

/// <summary>The parameters of <c>ssh.run</c> and <c>ssh.read</c> besides the command's own: which declared command.</summary>
public sealed record SshCommandParameters
{
    /// <summary>The name of a command declared under <c>Grace:Targets:&lt;host&gt;:Commands</c>.</summary>
    [System.ComponentModel.DataAnnotations.Required] public string? Command { get; init; }
}

/// <summary>A declared command made ready: its declaration, its checked values, the line to send and the line to show.</summary>
public sealed record PreparedCommand(string Name, SshCommandOptions Options, IReadOnlyDictionary<string, string> Values, SshTargetSettings Host)
{
    public IEnumerable<string> Secrets => Values.Where(v => Options.Parameters.TryGetValue(v.Key, out var p) && p.Secret).Select(v => v.Value);

    /// <summary>The command line as people see it: secret parameters as ***, and secret-looking literals redacted too.</summary>
    public string Shown(string template) => SshCommandTemplate.Clean(SshCommandTemplate.Render(template, Values, redact: true, Options), Secrets, 500);

    public string Line(string template) => SshCommandTemplate.Wrap(SshCommandTemplate.Render(template, Values, redact: false, Options), Options.TimeoutSeconds);

    /// <summary>Prepares a declared command with a playbook's values, refusing anything that does not fit.</summary>
    public static PreparedCommand For(IConfiguration configuration, string targetKey, IReadOnlyDictionary<string, string> parameters)
    {
        var own = TypedParameters.BindOrRefuse<SshCommandParameters>(parameters, ignore: parameters.Keys.Where(k => !k.Equals("Command", StringComparison.OrdinalIgnoreCase)));
        var host = SshTargets.Of(configuration, targetKey);
        if (!host.Commands.TryGetValue(own.Command!, out var command) || command.Command is null)
        {
            throw new ActionRefusedException($"Command '{own.Command}' is not declared under Grace:Targets:{targetKey}:Commands.");
        }

        var errors = new List<string>();
        var values = SshCommandTemplate.Values(command, parameters, ["Command"], errors);
        return errors.Count == 0 ? new PreparedCommand(own.Command!, command, values, host)
            : throw new ActionRefusedException($"Refused before anything ran: {string.Join(" ", errors)}");
    }
}

/// <summary>
/// <c>ssh.run</c>: runs a command declared on the Host target, with the playbook's typed values,
/// each quoted as one shell word. Its exit code, its output and its errors (cut, secrets redacted)
/// go on the timeline; a non-zero exit fails the action; the host ends a command that outlives its
/// timeout. A declared <c>Undo</c> makes it reversible.
/// </summary>
public sealed class SshRunAction(SshSessions sessions, IConfiguration configuration) : IRemediationExecutor
{
    public string Action => "ssh.run";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Host };
    public bool CanRollback => true;

    /// <summary>What can be checked without the target; the command's own values are checked against its declaration by <see cref="SshTargetsValidator"/>.</summary>
    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        TypedParameters.Bind<SshCommandParameters>(parameters, out var errors, parameters.Keys.Where(k => !k.Equals("Command", StringComparison.OrdinalIgnoreCase)));
        return errors;
    }

    public string Describe(ActionRequest request)
    {
        var prepared = PreparedCommand.For(configuration, request.Target.Key, request.Parameters);
        return $"Runs `{prepared.Shown(prepared.Options.Command!)}` on {prepared.Host.Where} (at most {prepared.Options.TimeoutSeconds} s)"
            + (prepared.Options.Undo is { } undo ? $"; undo: `{prepared.Shown(undo)}`." : "; no undo is declared.");
    }

    public Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var prepared = PreparedCommand.For(configuration, request.Target.Key, request.Parameters);
        var shown = prepared.Shown(prepared.Options.Command!);
        var undo = prepared.Options.Undo is { } u ? prepared.Shown(u) : null;
        // The approvers consent to this command on this host, behind this host key: a change to any of them voids the approval.
        var drift = new SshCommandDrift(prepared.Host.Address ?? "", prepared.Host.Port, SshTargets.Normalize(prepared.Host.HostKeyFingerprint ?? ""), prepared.Name, shown, undo);
        return Task.FromResult(Consent.Snapshot(
            JsonSerializer.Serialize(new { command = prepared.Name, shown, undo, host = prepared.Host.Where }),
            $"Will run `{shown}` on {prepared.Host.Where}" + (undo is null ? "; no undo is declared." : $"; undo: `{undo}`."),
            drift,
            $"`{shown}` on {prepared.Host.Where}, host key {drift.HostKey}"));
    }

    /// <summary>What changed between the approvers' snapshot and the one right before the action: the host, its pinned key, or the command.</summary>
    public string DescribeDrift(SnapshotState approved, SnapshotState current)
    {
        if (Consent.Read<SshCommandDrift>(approved) is not { } was || Consent.Read<SshCommandDrift>(current) is not { } now)
        {
            return Consent.Compare(approved, current);
        }

        var parts = new List<string>();
        if ((was.Address, was.Port) != (now.Address, now.Port))
        {
            parts.Add($"the host moved ({was.Address}:{was.Port} → {now.Address}:{now.Port})");
        }

        if (was.HostKey != now.HostKey)
        {
            parts.Add($"its pinned host key changed ({was.HostKey} → {now.HostKey})");
        }

        if (was.Shown != now.Shown || was.Undo != now.Undo)
        {
            parts.Add($"the command changed (`{was.Shown}` → `{now.Shown}`)");
        }

        return parts.Count == 0 ? Consent.Compare(approved, current) : $"{string.Join("; ", parts)} (approved against: {approved.ApprovedAgainst ?? approved.Summary})";
    }

    public async Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var prepared = PreparedCommand.For(configuration, request.Target.Key, request.Parameters);
        return await RunAsync(request.Target.Key, prepared, prepared.Options.Command!, cancellationToken);
    }

    public async Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var prepared = PreparedCommand.For(configuration, request.Target.Key, request.Parameters);
        if (prepared.Options.Undo is not { } undo)
        {
            throw new ActionRefusedException($"Command '{prepared.Name}' of '{request.Target.Key}' declares no Undo: it cannot be undone.");
        }

        return (await RunAsync(request.Target.Key, prepared, undo, cancellationToken)).Message;
    }

    private async Task<ActionResult> RunAsync(string targetKey, PreparedCommand prepared, string template, CancellationToken cancellationToken)
    {
        var shown = prepared.Shown(template);
        var run = await sessions.RunAsync(targetKey, prepared.Host, prepared.Line(template), TimeSpan.FromSeconds(prepared.Options.TimeoutSeconds), cancellationToken);
        var stdout = SshCommandTemplate.Clean(run.Stdout, prepared.Secrets);
        var stderr = SshCommandTemplate.Clean(run.Stderr, prepared.Secrets);
        var seconds = run.Duration.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
        var told = (stdout.Length > 0 ? $" stdout: {SshCommandTemplate.FirstLine(stdout)}" : "") + (stderr.Length > 0 ? $" stderr: {SshCommandTemplate.FirstLine(stderr)}" : "");
        if (run.TimedOut)
        {
            throw new RemoteCommandException($"`{shown}` on {prepared.Host.Where} ran past its {prepared.Options.TimeoutSeconds} s timeout and was ended on the host (exit code {run.ExitCode}).{told}");
        }

        if (run.ExitCode is not 0)
        {
            throw new RemoteCommandException($"`{shown}` on {prepared.Host.Where} exited with code {run.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "unknown"} after {seconds} s.{told}");
        }

        return new ActionResult($"`{shown}` on {prepared.Host.Where} exited 0 in {seconds} s.{told}",
            JsonSerializer.Serialize(new { host = prepared.Host.Where, command = shown, exitCode = run.ExitCode, stdout, stderr, seconds = run.Duration.TotalSeconds }));
    }
}

/// <summary>The host, its key and the command an approval of <c>ssh.run</c> consents to.</summary>
public sealed record SshCommandDrift(string Address, int Port, string HostKey, string Command, string Shown, string? Undo);
