using System.Net.Sockets;
using System.Text.RegularExpressions;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Renci.SshNet.Common;

namespace Grace.Engine.Adapters.Ssh;

/// <summary>
/// A Host target's settings, bound from <c>Grace:Targets:&lt;key&gt;</c>: where sshd listens, who Grace
/// signs in as and with which key, the host key it must present, and the commands Grace may run
/// there (nothing else ever runs).
/// </summary>
public sealed record SshTargetSettings
{
    public string? Address { get; init; }
    public int Port { get; init; } = 22;
    public string? User { get; init; }
    /// <summary>The private key Grace signs in with (OpenSSH or PEM; no passphrase). SSH.NET has no agent support.</summary>
    public string? PrivateKeyFile { get; init; }
    /// <summary>The host key Grace accepts, as <c>ssh-keygen -lf</c> prints it: <c>SHA256:</c> and 43 base64 characters.</summary>
    public string? HostKeyFingerprint { get; init; }
    public int ConnectTimeoutSeconds { get; init; } = 10;
    /// <summary>The declared commands, by name: the only things <c>ssh.run</c> and <c>ssh.read</c> run on this host.</summary>
    public Dictionary<string, SshCommandOptions> Commands { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>"grace@10.0.0.5:22", for messages.</summary>
    public string Where => $"{User}@{Address}:{Port}";
}

/// <summary>A command declared on a Host target: a template whose <c>{Name}</c> placeholders are typed parameters.</summary>
public sealed class SshCommandOptions
{
    /// <summary>The template, such as <c>systemctl restart {Unit}</c>. Each placeholder becomes one quoted shell word; <c>${VAR}</c> is left to the shell.</summary>
    public string? Command { get; init; }
    /// <summary>A template that undoes the command (same parameters): makes <c>ssh.run</c> reversible.</summary>
    public string? Undo { get; init; }
    /// <summary>Seconds the remote command may run (default 30); then it is ended on the host (<c>timeout</c>, TERM then KILL 5 s later).</summary>
    public int TimeoutSeconds { get; init; } = 30;
    public Dictionary<string, SshParameterOptions> Parameters { get; init; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>A typed parameter of a declared command.</summary>
public sealed class SshParameterOptions
{
    /// <summary><c>Identifier</c>, <c>Integer</c>, <c>Number</c>, <c>Path</c> or <c>Choice</c>: required.</summary>
    public string? Type { get; init; }
    /// <summary>For <c>Choice</c>: the values allowed.</summary>
    public List<string> Values { get; init; } = [];
    public double? Min { get; init; }
    public double? Max { get; init; }
    /// <summary>A value used when a playbook gives none.</summary>
    public string? Default { get; init; }
    /// <summary>Never shown: replaced by *** in the timeline, logs and snapshots (the output too).</summary>
    public bool Secret { get; init; }
}

/// <summary>
/// Remote hosts over SSH: where sshd listens, who Grace signs in as and with which key, the pinned
/// host key, and the declared commands. At start a malformed fingerprint, an unreadable key, a
/// placeholder without a declared parameter or a parameter without a type is a fault naming the key.
/// Transient: a host that does not answer. Final: a refused host key, a refused sign-in, a failed command.
/// </summary>
public sealed class HostKind(PathResolver paths) : TargetKindAdapter<SshTargetSettings>
{
    public static readonly TargetKind Id = new("Host");

    public override TargetKind Kind => Id;

    protected override TargetSettings Resolve(string key, SshTargetSettings options)
    {
        var problems = new List<string>();
        ValidateCommands(options, problems);
        var missing = string.IsNullOrWhiteSpace(options.Address) ? ("Address", "is required for a Host target (the host sshd listens on)")
            : string.IsNullOrWhiteSpace(options.User) ? ("User", "is required for a Host target (the user Grace signs in as)")
            : string.IsNullOrWhiteSpace(options.PrivateKeyFile) ? ("PrivateKeyFile", "is required for a Host target (the key Grace signs in with)")
            : string.IsNullOrWhiteSpace(options.HostKeyFingerprint) ? ("HostKeyFingerprint", "is required for a Host target: the host key Grace accepts, as ssh-keygen -lf prints it (SHA256:...)")
            : ((string, string)?)null;
        if (missing is { } m)
        {
            return new TargetSettings(null, m, Problems: problems);
        }

        if (!SshTargets.IsFingerprint(options.HostKeyFingerprint!.Trim()))
        {
            problems.Add($"HostKeyFingerprint '{options.HostKeyFingerprint}' is not a SHA256 fingerprint: give it as ssh-keygen -lf prints it, 'SHA256:' and 43 base64 characters (ssh-keyscan HOST | ssh-keygen -lf -).");
        }

        if (options.Port is < 1 or > 65535)
        {
            problems.Add($"Port must be between 1 and 65535 (it is {options.Port}).");
        }

        if (options.ConnectTimeoutSeconds is < 1 or > 120)
        {
            problems.Add($"ConnectTimeoutSeconds must be between 1 and 120 (it is {options.ConnectTimeoutSeconds}).");
        }

        var keyFile = paths.Resolve(options.PrivateKeyFile!);
        try
        {
            using var _ = new Renci.SshNet.PrivateKeyFile(keyFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SshException or ArgumentException)
        {
            problems.Add($"PrivateKeyFile: {keyFile} cannot be used as a private key: {ex.Message}");
        }

        return new TargetSettings(options with { PrivateKeyFile = keyFile }, Problems: problems);
    }

    public override bool IsTransient(Exception exception) => SshTransience.IsTransient(exception) ?? false;

    private static void ValidateCommands(SshTargetSettings settings, List<string> problems)
    {
        foreach (var (name, command) in settings.Commands)
        {
            var where = $"Commands:{name}";
            if (string.IsNullOrWhiteSpace(command.Command))
            {
                problems.Add($"{where}:Command is required (a template such as \"systemctl restart {{Unit}}\").");
                continue;
            }

            if (command.TimeoutSeconds is < 1 or > 3600)
            {
                problems.Add($"{where}:TimeoutSeconds must be between 1 and 3600 (it is {command.TimeoutSeconds}).");
            }

            foreach (var (template, field) in new[] { (command.Command, "Command"), (command.Undo, "Undo") })
            {
                foreach (var placeholder in template is null ? [] : SshCommandTemplate.Placeholders(template))
                {
                    if (!command.Parameters.ContainsKey(placeholder))
                    {
                        problems.Add($"{where}:{field} uses {{{placeholder}}}, which is not declared: add {where}:Parameters:{placeholder}:Type ({string.Join(", ", SshCommandTemplate.Types)}).");
                    }
                }
            }

            foreach (var (parameter, options) in command.Parameters)
            {
                if (string.IsNullOrWhiteSpace(options.Type))
                {
                    problems.Add($"{where}:Parameters:{parameter}:Type is required: one of {string.Join(", ", SshCommandTemplate.Types)}.");
                }
                else if (!SshCommandTemplate.Types.Contains(options.Type))
                {
                    problems.Add($"{where}:Parameters:{parameter}:Type '{options.Type}' is not one of {string.Join(", ", SshCommandTemplate.Types)}.");
                }
                else if (options.Type == "Choice" && options.Values.Count == 0)
                {
                    problems.Add($"{where}:Parameters:{parameter}:Values must list the choices of a Choice parameter.");
                }
                else if (options.Default is { } value && SshCommandTemplate.Check(parameter, value, options) is { } problem)
                {
                    problems.Add($"{where}:Parameters:{parameter}:Default: {problem}");
                }
            }
        }
    }
}

/// <summary>What a fingerprint may look like.</summary>
public static partial class SshTargets
{
    /// <summary>"SHA256:" and 43 base64 characters (an optional '=' tolerated), as OpenSSH prints it.</summary>
    public static bool IsFingerprint(string value) => Fingerprint().IsMatch(value);

    /// <summary>The fingerprint without padding, for comparison.</summary>
    public static string Normalize(string fingerprint) => fingerprint.Trim().TrimEnd('=');

    [GeneratedRegex("^SHA256:[A-Za-z0-9+/]{43}=?$")]
    private static partial Regex Fingerprint();
}

/// <summary>The host did not answer (refused, unreachable, timed out): worth retrying, and a clear reason when it stays away.</summary>
/// <remarks>An <see cref="InvalidOperationException"/>, so where a mission meets it the mission fails with this reason instead of retrying forever.</remarks>
public sealed class HostUnavailableException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

/// <summary>The remote command ran and failed (a non-zero exit code, or the timeout ended it): final, not retried.</summary>
public sealed class RemoteCommandException(string message) : Exception(message);

/// <summary>Which SSH faults are transient: a host that does not answer. A refused host key, a refused sign-in or a failed command is final.</summary>
public static class SshTransience
{
    public static bool? IsTransient(Exception ex) => ex switch
    {
        HostUnavailableException => true,
        RemoteCommandException or SshAuthenticationException => false,
        SshOperationTimeoutException or SocketException => true,
        SshConnectionException => true,
        _ => null,
    };
}
