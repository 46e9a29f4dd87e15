using System.Net.Sockets;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Grace.Engine.Configuration;

namespace Grace.Engine.Adapters.Containers;

/// <summary>A Container target's settings: the engine's API (a unix socket or TCP) and the container's name or id.</summary>
public sealed record ContainerTarget(string Endpoint, string Container);

/// <summary>
/// Containers on a Docker Engine API (Docker, or Podman's API service): <c>Endpoint</c> and
/// <c>Container</c>. At start a socket that is not there, a name that cannot be one, or a container
/// the engine does not have (when it answers) is a fault naming the key; an engine that is down is
/// not, and its missions fail with the reason. Which of the client's faults are transient: an engine
/// that does not answer, or answers 5xx.
/// </summary>
public sealed class ContainerKind : TargetKindAdapter<ContainerKind.Options>
{
    public static readonly TargetKind Id = new("Container");

    private static readonly TimeSpan EngineCheckTimeout = TimeSpan.FromSeconds(3);

    public override TargetKind Kind => Id;

    protected override TargetSettings Resolve(string key, Options options)
    {
        if (string.IsNullOrWhiteSpace(options.Endpoint))
        {
            return TargetSettings.Without("Endpoint", "is required for a Container target (the engine's API: unix:///run/docker.sock or tcp://127.0.0.1:2375)");
        }

        if (string.IsNullOrWhiteSpace(options.Container))
        {
            return TargetSettings.Without("Container", "is required for a Container target (the container's name or id)");
        }

        var endpoint = options.Endpoint.Trim();
        var container = options.Container.Trim();
        var problems = new List<string>();
        if (!ContainerTargets.IsContainerReference(container))
        {
            problems.Add($"Container '{container}' is not a container name or id (letters, digits, '_', '.', '-').");
        }

        if (ContainerTargets.ParseEndpoint(endpoint, out var error) is not { } uri)
        {
            problems.Add($"Endpoint: {error}.");
        }
        else if (uri.Scheme == "unix" && !File.Exists(uri.AbsolutePath))
        {
            problems.Add($"Endpoint: there is no socket at {uri.AbsolutePath} (is the engine running, and is this its socket?).");
        }
        else if (problems.Count == 0 && ContainerUnknown(uri, container) is { } unknown)
        {
            problems.Add($"Container: {unknown}");
        }

        return new TargetSettings(new ContainerTarget(endpoint, container), Problems: problems);
    }

    public override bool IsTransient(Exception exception) => ContainerTransience.IsTransient(exception) ?? false;

    /// <summary>Why the engine says the container does not exist; null when it exists or the engine does not answer now.</summary>
    private static string? ContainerUnknown(Uri endpoint, string container)
    {
        using var client = new Docker.DotNet.DockerClientBuilder().WithEndpoint(endpoint).WithApiVersion(ContainerEngines.ApiVersion).WithTimeout(EngineCheckTimeout).Build();
        using var limit = new CancellationTokenSource(EngineCheckTimeout);
        try
        {
            client.Containers.InspectContainerAsync(container, limit.Token).GetAwaiter().GetResult();
            return null;
        }
        catch (DockerContainerNotFoundException)
        {
            return $"the engine at {endpoint} has no container '{container}' (docker ps -a lists what it has).";
        }
        catch (Exception ex) when (ex is DockerApiException or OperationCanceledException || ContainerTransience.IsTransport(ex))
        {
            return null; // Not answering now: a mission will say so; it does not stop Grace.
        }
    }

    /// <summary><c>Grace:Targets:&lt;key&gt;</c> of a Container target.</summary>
    public sealed class Options
    {
        /// <summary>The engine's API: <c>unix:///run/docker.sock</c> or <c>tcp://127.0.0.1:2375</c>.</summary>
        public string? Endpoint { get; set; }

        /// <summary>The container's name or id.</summary>
        public string? Container { get; set; }
    }
}

/// <summary>What an endpoint and a container reference may be.</summary>
public static partial class ContainerTargets
{
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
