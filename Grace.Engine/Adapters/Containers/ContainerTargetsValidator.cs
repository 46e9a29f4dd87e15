using Docker.DotNet;
using Grace.Engine.Configuration;
using Microsoft.Extensions.Configuration;

namespace Grace.Engine.Adapters.Containers;

/// <summary>
/// Checks Container targets at start, each fault naming its key: the endpoint's form, a unix
/// socket that is not there, a container name that cannot be one, a container the engine does not
/// know (when the engine answers; an engine that is down does not stop Grace, its missions fail
/// with the reason), and a restart that the action timeout would cut off.
/// </summary>
public sealed class ContainerTargetsValidator(IConfiguration configuration) : ITargetKindValidator
{
    private static readonly TimeSpan EngineCheckTimeout = TimeSpan.FromSeconds(3);

    public IEnumerable<string> Validate(CatalogOptions catalog)
    {
        var errors = new List<string>();
        foreach (var (key, target) in catalog.Targets.Where(t => t.Value.Kind == TargetKind.Container))
        {
            var at = $"Grace:Targets:{key}";
            if (ContainerTargets.Missing(target) is not null)
            {
                continue; // Reported by the catalog (or an optional target left unconfigured).
            }

            var endpoint = target.Endpoint!.Trim();
            var container = target.Container!.Trim();
            var named = ContainerTargets.IsContainerReference(container);
            if (!named)
            {
                errors.Add($"{at}:Container '{container}' is not a container name or id (letters, digits, '_', '.', '-').");
            }

            if (ContainerTargets.ParseEndpoint(endpoint, out var error) is not { } uri)
            {
                errors.Add($"{at}:Endpoint: {error}.");
                continue;
            }

            if (uri.Scheme == "unix" && !File.Exists(uri.AbsolutePath))
            {
                errors.Add($"{at}:Endpoint: there is no socket at {uri.AbsolutePath} (is the engine running, and is this its socket?).");
                continue;
            }

            if (named && !target.Optional && ContainerUnknown(uri, container) is { } unknown)
            {
                errors.Add($"{at}:Container: {unknown}");
            }
        }

        var actionTimeout = configuration.GetValue<int?>("Grace:Engine:ActionTimeoutSeconds") ?? new EngineOptions().ActionTimeoutSeconds;
        foreach (var (key, playbook) in catalog.Playbooks.Where(p => p.Value.Action is "container.restart" or "container.stop"))
        {
            if (catalog.Targets.TryGetValue(playbook.Target, out var target) && target.Optional && ContainerTargets.Missing(target) is not null)
            {
                continue; // Its missions are blocked until the target is configured; it is checked then.
            }

            var p = TypedParameters.Bind<RestartContainerParameters>(playbook.Parameters, out var bindErrors, ["StopTimeoutSeconds", "SettleSeconds"]);
            var longest = p.StopTimeoutSeconds + (playbook.Action == "container.restart" ? p.SettleSeconds : 0) + 15;
            if (bindErrors.Count == 0 && longest >= actionTimeout)
            {
                errors.Add($"Grace:Playbooks:{key}:Parameters: {playbook.Action} may take {longest:0.#} s (StopTimeoutSeconds, SettleSeconds and the engine's calls), and Grace:Engine:ActionTimeoutSeconds ({actionTimeout}) would cut it off; lower them or raise it.");
            }
        }

        return errors;
    }

    /// <summary>Why the engine says the container does not exist; null when it exists or the engine does not answer now.</summary>
    private static string? ContainerUnknown(Uri endpoint, string container)
    {
        using var client = new DockerClientBuilder().WithEndpoint(endpoint).WithApiVersion(ContainerEngines.ApiVersion).WithTimeout(EngineCheckTimeout).Build();
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
}
