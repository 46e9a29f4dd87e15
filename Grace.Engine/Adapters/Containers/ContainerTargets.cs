using System.Net.Sockets;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Grace.Engine.Configuration;

namespace Grace.Engine.Adapters.Containers;

/// <summary>
/// A Container target's settings, bound from <c>Grace:Targets:&lt;key&gt;</c>: the engine's API
/// (<c>Endpoint</c>, a unix socket or TCP) and the container's name or id (<c>Container</c>).
/// </summary>
public sealed record ContainerTargetSettings(string Endpoint, string Container)
{
    public static ContainerTargetSettings Of(string key, TargetOptions? target) =>
        target is { Endpoint: { Length: > 0 } endpoint, Container: { Length: > 0 } container }
            ? new ContainerTargetSettings(endpoint.Trim(), container.Trim())
            : throw new Execute.ActionRefusedException($"Target '{key}' is not a configured Container target: Grace:Targets:{key}:Endpoint and :Container are required.");
}

/// <summary>The rules of Container targets: what they require, which are host-bound, and what an endpoint may be.</summary>
public static partial class ContainerTargets
{
    /// <summary>The setting a Container target cannot do without (<see cref="Targets.TargetRegistry.Missing"/>).</summary>
    public static (string Setting, string Why)? Missing(TargetOptions target) =>
        string.IsNullOrWhiteSpace(target.Endpoint) ? ("Endpoint", "is required for a Container target (the engine's API: unix:///run/docker.sock or tcp://127.0.0.1:2375)")
        : string.IsNullOrWhiteSpace(target.Container) ? ("Container", "is required for a Container target (the container's name or id)")
        : null;

    /// <summary>A container behind a unix socket can only be reached from the machine the socket is on.</summary>
    public static bool IsLocal(TargetOptions target) =>
        target.Kind == TargetKind.Container && target.Endpoint is { } e && e.TrimStart().StartsWith("unix://", StringComparison.OrdinalIgnoreCase);

    /// <summary>The endpoint as the client takes it, or why it cannot be one.</summary>
    public static Uri? ParseEndpoint(string endpoint, out string? error)
    {
        error = null;
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
        {
            error = $"'{endpoint}' is not an endpoint: use unix:///path/to/docker.sock or tcp://host:port";
            return null;
        }

        switch (uri.Scheme.ToLowerInvariant())
        {
            case "unix" when uri.AbsolutePath.Length > 1:
                return uri;
            case "unix":
                error = $"'{endpoint}' names no socket: use unix:///path/to/docker.sock (three slashes, an absolute path)";
                return null;
            case "tcp" or "http" when !string.IsNullOrEmpty(uri.Host) && !uri.IsDefaultPort:
                return uri;
            case "tcp" or "http":
                error = $"'{endpoint}' needs a host and a port: tcp://127.0.0.1:2375";
                return null;
            default:
                error = $"'{endpoint}' uses '{uri.Scheme}'; Grace speaks to engines over unix:// sockets and tcp:// (plain HTTP on a trusted network; TLS is not supported yet)";
                return null;
        }
    }

    /// <summary>A container name (<c>[a-zA-Z0-9][a-zA-Z0-9_.-]*</c>, as the engines accept) or a hexadecimal id.</summary>
    public static bool IsContainerReference(string value) => ContainerName().IsMatch(value);

    [GeneratedRegex("^/?[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$")]
    private static partial Regex ContainerName();
}

/// <summary>The engine did not answer (its socket is missing, it refused the connection, it timed out): worth retrying, and a clear reason when it stays away.</summary>
/// <remarks>An <see cref="InvalidOperationException"/>, so a snapshot that meets it fails the mission with this reason instead of retrying forever.</remarks>
public sealed class ContainerEngineUnavailableException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

/// <summary>Which of the Docker client's faults are transient: an engine that does not answer, or answers 5xx. A 4xx (no such container, a conflict) is final.</summary>
public static class ContainerTransience
{
    public static bool? IsTransient(Exception ex) => ex switch
    {
        ContainerEngineUnavailableException => true,
        DockerApiException api => (int)api.StatusCode >= 500,
        DockerConfigurationException => false,
        _ => null,
    };

    /// <summary>A transport failure of the client, as distinct from an answer of the engine.</summary>
    internal static bool IsTransport(Exception ex) => ex switch
    {
        HttpRequestException or SocketException or IOException or TimeoutException => true,
        // The client's own handler wraps a refused connection in an AggregateException.
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsTransport),
        _ => false,
    };
}
