using System.Diagnostics;
using System.Net.Sockets;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Grace.Engine.Adapters.Ssh;

/// <summary>What one remote command did.</summary>
public sealed record RemoteRun(int? ExitCode, string Stdout, string Stderr, TimeSpan Duration)
{
    /// <summary>GNU and busybox <c>timeout</c> exit with 124 when they ended the command (137 after the KILL).</summary>
    public bool TimedOut => ExitCode is 124 or 137;
}

/// <summary>
/// Runs one command on a Host target over SSH: the host key must match the pinned fingerprint
/// (otherwise nothing is sent, and the message says which key was seen), sign-in with the target's
/// private key, and a command that the host ends itself at its timeout, with a client-side backstop.
/// </summary>
public sealed class SshSessions(Microsoft.Extensions.Logging.ILogger<SshSessions> logger)
{
    /// <summary>How long past the remote timeout the client waits before it closes the channel itself.</summary>
    public static readonly TimeSpan Backstop = TimeSpan.FromSeconds(10);

    public async Task<RemoteRun> RunAsync(string targetKey, SshTargetSettings settings, string commandLine, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var pinned = SshTargets.Normalize(settings.HostKeyFingerprint ?? throw new ActionRefusedException($"Grace:Targets:{targetKey}:HostKeyFingerprint is required."));
        PrivateKeyFile key;
        try
        {
            key = new PrivateKeyFile(settings.PrivateKeyFile ?? throw new ActionRefusedException($"Grace:Targets:{targetKey}:PrivateKeyFile is required."));
        }
        catch (Exception ex) when (ex is IOException or SshException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ActionRefusedException($"The private key of '{targetKey}' (Grace:Targets:{targetKey}:PrivateKeyFile) cannot be read: {ex.Message}");
        }

        using (key)
        {
            var info = new ConnectionInfo(settings.Address ?? throw new ActionRefusedException($"Grace:Targets:{targetKey}:Address is required."), settings.Port, settings.User ?? throw new ActionRefusedException($"Grace:Targets:{targetKey}:User is required."), new PrivateKeyAuthenticationMethod(settings.User, key))
            {
                Timeout = TimeSpan.FromSeconds(settings.ConnectTimeoutSeconds),
            };
            using var client = new SshClient(info);
            string? presented = null;
            client.HostKeyReceived += (_, e) =>
            {
                presented = "SHA256:" + SshTargets.Normalize(e.FingerPrintSHA256);
                e.CanTrust = string.Equals(presented, pinned, StringComparison.Ordinal);
            };

            try
            {
                using var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                connect.CancelAfter(TimeSpan.FromSeconds(settings.ConnectTimeoutSeconds));
                await client.ConnectAsync(connect.Token);
            }
            catch (Exception) when (presented is not null && !string.Equals(presented, pinned, StringComparison.Ordinal))
            {
                throw new ActionRefusedException(
                    $"{settings.Address}:{settings.Port} presented host key {presented}, but Grace:Targets:{targetKey}:HostKeyFingerprint pins {pinned}: Grace refused to connect. "
                    + "A changed host key means a reinstalled host or someone in the middle: check it, then update the pin.");
            }
            catch (SshAuthenticationException ex)
            {
                throw new ActionRefusedException($"{settings.Where} refused Grace's key (Grace:Targets:{targetKey}:PrivateKeyFile): {ex.Message}");
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw new HostUnavailableException($"{settings.Address}:{settings.Port} did not answer within {settings.ConnectTimeoutSeconds} s.", ex);
            }
            catch (Exception ex) when (ex is SocketException or SshConnectionException or SshOperationTimeoutException or IOException)
            {
                throw new HostUnavailableException($"Could not reach {settings.Address}:{settings.Port} over SSH: {ex.Message}", ex);
            }

            // The command line is not logged: a secret parameter travels in it.
            Microsoft.Extensions.Logging.LoggerExtensions.LogDebug(logger, "Running a declared command of {Target} on {Where}", targetKey, settings.Where);
            using var command = client.CreateCommand(commandLine);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout + Backstop);
            var clock = Stopwatch.StartNew();
            try
            {
                await command.ExecuteAsync(limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new RemoteCommandException($"The command on {settings.Where} did not end within {(timeout + Backstop).TotalSeconds:0} s, even after its remote timeout; Grace closed the channel.");
            }
            catch (Exception ex) when (ex is SshConnectionException or SocketException or IOException)
            {
                throw new HostUnavailableException($"The connection to {settings.Where} was lost while the command ran: {ex.Message}", ex);
            }
            finally
            {
                client.Disconnect();
            }

            return new RemoteRun(command.ExitStatus, command.Result, command.Error, clock.Elapsed);
        }
    }
}
