using System.Globalization;
using Grace.Engine.Configuration;
using Grace.Engine.Verify;
using Microsoft.Extensions.Configuration;

namespace Grace.Engine.Adapters.Ssh;

/// <summary>
/// <c>ssh.read</c>: runs a command declared on the Host target and reads its output as a number
/// (its first word, invariant culture). A command that fails, or prints something else, gives no
/// reading. A reading has the probe pipeline's 10 s in all, so the command gets at most 8 s.
/// </summary>
public sealed class SshReadProbe(SshSessions sessions, IConfiguration configuration) : IProbe
{
    public string Key => "ssh.read";
    public string Unit => "value";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Host };

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        TypedParameters.Bind<SshCommandParameters>(parameters, out var errors, parameters.Keys.Where(k => !k.Equals("Command", StringComparison.OrdinalIgnoreCase)));
        return errors;
    }

    public async Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken)
    {
        var prepared = PreparedCommand.For(configuration, request.Target.Key, request.Parameters);
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
