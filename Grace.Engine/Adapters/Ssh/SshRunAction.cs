using System.Globalization;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Adapters.Ssh;

/// <summary>A declared command made ready: its declaration, its checked values, the line to send and the line to show.</summary>
public sealed record PreparedCommand(string Name, SshCommandOptions Options, IReadOnlyDictionary<string, string> Values, SshTargetSettings Host)
{
    public IEnumerable<string> Secrets => Values.Where(v => Options.Parameters.TryGetValue(v.Key, out var p) && p.Secret).Select(v => v.Value);

    /// <summary>The command line as people see it: secret parameters as ***, and secret-looking literals redacted too.</summary>
    public string Shown(string template) => SshCommandTemplate.Clean(SshCommandTemplate.Render(template, Values, redact: true, Options), Secrets, 500);

    public string Line(string template) => SshCommandTemplate.Wrap(SshCommandTemplate.Render(template, Values, redact: false, Options), Options.TimeoutSeconds);

    /// <summary>Prepares a declared command with a playbook's values, refusing anything that does not fit.</summary>
    public static PreparedCommand For(ResolvedTarget target, IReadOnlyDictionary<string, string> parameters)
    {
        var host = target.Settings<SshTargetSettings>();
        var errors = new List<string>();
        var prepared = Check(target.Key, host, parameters, errors);
        return errors.Count == 0 && prepared is not null ? prepared
            : throw new ActionRefusedException($"Refused before anything ran: {string.Join(" ", errors)}");
    }

    /// <summary>The declared command and its checked values, or the faults ("Parameters:Name ..."), each naming its parameter.</summary>
    public static PreparedCommand? Check(string targetKey, SshTargetSettings host, IReadOnlyDictionary<string, string> parameters, List<string> errors)
    {
        var name = parameters.TryGetValue("Command", out var n) ? n : null;
        if (string.IsNullOrWhiteSpace(name))
        {
            errors.Add("Parameters:Command is required: the name of a command declared under the target's Commands.");
            return null;
        }

        if (!host.Commands.TryGetValue(name, out var command) || command.Command is null)
        {
            errors.Add($"Parameters:Command: '{name}' is not declared under Grace:Targets:{targetKey}:Commands; declared: {(host.Commands.Count == 0 ? "none" : string.Join(", ", host.Commands.Keys.Order(StringComparer.Ordinal)))}.");
            return null;
        }

        var before = errors.Count;
        var values = SshCommandTemplate.Values(command, parameters, ["Command"], errors);
        return errors.Count == before ? new PreparedCommand(name, command, values, host) : null;
    }
}

/// <summary>
/// <c>ssh.run</c>: runs a command declared on the Host target, with the playbook's typed values,
/// each quoted as one shell word. Its exit code, its output and its errors (cut, secrets redacted)
/// go on the timeline; a non-zero exit fails the action; the host ends a command that outlives its
/// timeout. A declared <c>Undo</c> makes it reversible.
/// </summary>
public sealed class SshRunAction(SshSessions sessions, IOptionsMonitor<EngineOptions> engine) : IRemediationExecutor
{
    public string Action => "ssh.run";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(HostKind.Id);
    public bool CanRollback => true;

    /// <summary>What can be checked without the target: a command is named. Its values are checked against its declaration in <see cref="ValidateUse"/>.</summary>
    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters) =>
        parameters.TryGetValue("Command", out var name) && !string.IsNullOrWhiteSpace(name) ? [] : ["Parameters:Command is required: the name of a command declared under the target's Commands."];

    /// <summary>The command is declared on the host, each value fits its type (<c>; rm -rf /</c> never gets past here), and it fits the action timeout.</summary>
    public IEnumerable<string> ValidateUse(ResolvedTarget target, IReadOnlyDictionary<string, string> parameters)
    {
        if (target.KindSettings is not SshTargetSettings host)
        {
            return []; // An optional host left unconfigured: checked once it is configured.
        }

        var errors = new List<string>();
        var prepared = PreparedCommand.Check(target.Key, host, parameters, errors);
        errors.RemoveAll(e => e.StartsWith("Parameters:Command is required", StringComparison.Ordinal));
        var limit = engine.CurrentValue.ActionTimeoutSeconds;
        if (prepared is not null && prepared.Options.TimeoutSeconds + 20 >= limit)
        {
            errors.Add($"Parameters:Command: '{prepared.Name}' may run {prepared.Options.TimeoutSeconds} s (its TimeoutSeconds), and with signing in Grace:Engine:ActionTimeoutSeconds ({limit}) would cut it off; lower it or raise that.");
        }

        return errors;
    }

    public string Describe(ActionRequest request)
    {
        var prepared = PreparedCommand.For(request.Target, request.Parameters);
        return $"Runs `{prepared.Shown(prepared.Options.Command!)}` on {prepared.Host.Where} (at most {prepared.Options.TimeoutSeconds} s)"
            + (prepared.Options.Undo is { } undo ? $"; undo: `{prepared.Shown(undo)}`." : "; no undo is declared.");
    }

    public Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        var prepared = PreparedCommand.For(request.Target, request.Parameters);
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
        // Cancelled before it starts, the action changes nothing.
        cancellationToken.ThrowIfCancellationRequested();
        var prepared = PreparedCommand.For(request.Target, request.Parameters);
        return await RunAsync(request.Target.Key, prepared, prepared.Options.Command!, cancellationToken);
    }

    public async Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        var prepared = PreparedCommand.For(request.Target, request.Parameters);
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
