using System.Collections.Concurrent;
using System.Globalization;
using Docker.DotNet.Models;
using Docker.DotNet;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
using Grace.Engine.Targets;

namespace Grace.Engine.Adapters.Containers;

/// <summary>What Grace knows of a container at one moment: enough to describe it, compare it and undo a start or stop.</summary>
public sealed record ContainerView(
    string Id, string Name, string ImageId, string Status, bool Running, long RestartCount, string? Health, DateTimeOffset? StartedAt, long ExitCode, bool OomKilled)
{
    public string ShortId => Id.Length > 12 ? Id[..12] : Id;

    /// <summary>"web (2ae321ce1eee): running since 2026-11-30 13:53:50Z, image 24217a6c78dd, 2 restarts, healthy".</summary>
    public string Summary =>
        $"{Name} ({ShortId}): {Status}"
        + (Running && StartedAt is { } at ? $" since {at.ToString("u", CultureInfo.InvariantCulture)}" : Running ? "" : $", exit code {ExitCode}" + (OomKilled ? " (out of memory)" : ""))
        + $", image {ShortImage}, {HumanFormat.Count(RestartCount, "restart")}"
        + (Health is { Length: > 0 } h ? $", {h}" : "") + ".";

    private string ShortImage => Abbreviate(ImageId);

    /// <summary>The first 12 hexadecimal digits of an id or an image digest, as the engines' CLIs show them.</summary>
    public static string Abbreviate(string id) => id.StartsWith("sha256:", StringComparison.Ordinal) ? id[7..Math.Min(id.Length, 19)] : id[..Math.Min(id.Length, 12)];

    internal static ContainerView From(ContainerInspectResponse c) => new(
        c.ID, c.Name.TrimStart('/'), c.Image, c.State?.Status ?? "unknown", c.State?.Running ?? false, c.RestartCount,
        c.State?.Health?.Status is { Length: > 0 } h && !string.Equals(h, "none", StringComparison.OrdinalIgnoreCase) ? h : null,
        DateTimeOffset.TryParse(c.State?.StartedAt, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var started) && started.Year > 1 ? started : null,
        c.State?.ExitCode ?? 0, c.State?.OOMKilled ?? false);
}

/// <summary>
/// One Docker Engine API client per endpoint (Docker or Podman, API 1.41), the error translation
/// every container call goes through, and the stops Grace itself is about to cause (so its own
/// restart is not reported as a crash).
/// </summary>
public sealed class ContainerEngines : IDisposable
{
    /// <summary>The API version Grace asks for: Docker 20.10 and Podman 4 both serve it.</summary>
    public static readonly System.Version ApiVersion = new(1, 41);

    /// <summary>
    /// How long a read (inspect, stats, ping) may take before the engine counts as not answering: under
    /// the probe pipeline's 10 s, so a snapshot or a reading fails with this reason rather than Polly's timeout.
    /// </summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(8);

    /// <summary>How long a change (start, kill; a stop adds its own timeout) may take: engines on a busy machine can be slow to act.</summary>
    public static readonly TimeSpan ChangeTimeout = TimeSpan.FromSeconds(20);

    private readonly ConcurrentDictionary<string, DockerClient> _clients = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _expectedStops = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public ContainerEngines(TimeProvider time) => _time = time;

    /// <summary>The shared client of an endpoint, for calls with their own timeouts.</summary>
    public DockerClient For(string endpoint) => _clients.GetOrAdd(endpoint, e => Build(e, TimeSpan.FromMinutes(15)));

    /// <summary>A new client for a stream that lasts as long as its token (the events): the caller disposes it.</summary>
    public static DockerClient ForStream(string endpoint) => Build(endpoint, Timeout.InfiniteTimeSpan);

    private static DockerClient Build(string endpoint, TimeSpan timeout)
    {
        var uri = ContainerTargets.ParseEndpoint(endpoint, out var error) ?? throw new ActionRefusedException(error!);
        return new DockerClientBuilder().WithEndpoint(uri).WithApiVersion(ApiVersion).WithTimeout(timeout).Build();
    }

    /// <summary>
    /// Calls the engine of a target with a timeout, and turns what can go wrong into what a person
    /// reads: no such container (final), the engine not answering (transient), or its own refusal.
    /// </summary>
    public async Task<T> CallAsync<T>(string targetKey, ContainerTarget settings, Func<DockerClient, CancellationToken, Task<T>> call, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            return await call(For(settings.Endpoint), limit.Token);
        }
        catch (DockerContainerNotFoundException)
        {
            throw new ActionRefusedException($"There is no container '{settings.Container}' on {settings.Endpoint} (Grace:Targets:{targetKey}:Container).");
        }
        catch (DockerApiException ex) when ((int)ex.StatusCode < 500)
        {
            throw new ActionRefusedException($"The engine at {settings.Endpoint} refused: {(int)ex.StatusCode} {Brief(ex.ResponseBody)}");
        }
        catch (OperationCanceledException ex) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ContainerEngineUnavailableException($"The container engine at {settings.Endpoint} did not answer within {timeout.TotalSeconds:0.#} s.", ex);
        }
        catch (Exception ex) when (ContainerTransience.IsTransport(ex))
        {
            throw new ContainerEngineUnavailableException($"The container engine at {settings.Endpoint} does not answer: {Innermost(ex).Message}", ex);
        }
    }

    public Task CallAsync(string targetKey, ContainerTarget settings, Func<DockerClient, CancellationToken, Task> call, TimeSpan timeout, CancellationToken cancellationToken) =>
        CallAsync(targetKey, settings, async (c, ct) => { await call(c, ct); return true; }, timeout, cancellationToken);

    /// <summary>The container of a target as the engine sees it now.</summary>
    public async Task<ContainerView> InspectAsync(string targetKey, ContainerTarget settings, CancellationToken cancellationToken) =>
        ContainerView.From(await CallAsync(targetKey, settings, (c, ct) => c.Containers.InspectContainerAsync(settings.Container, ct), CallTimeout, cancellationToken));

    public Task<ContainerView> InspectAsync(ResolvedTarget target, CancellationToken cancellationToken) =>
        InspectAsync(target.Key, target.Settings<ContainerTarget>(), cancellationToken);

    /// <summary>Grace is about to stop this container: its next death within a minute is Grace's doing, not a crash.</summary>
    public void ExpectStop(string containerId) => _expectedStops[containerId] = _time.GetUtcNow().AddMinutes(1);

    /// <summary>True (once) when a container's death was announced by <see cref="ExpectStop"/>.</summary>
    public bool TakeExpectedStop(string containerId) =>
        _expectedStops.TryRemove(containerId, out var until) && until >= _time.GetUtcNow();

    /// <summary>Forgets an announced stop that did not happen (the stop call failed).</summary>
    public void ForgetExpectedStop(string containerId) => _expectedStops.TryRemove(containerId, out _);

    internal static string Brief(string? body)
    {
        var text = (body ?? "").Trim();
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(text);
            if (json.RootElement.TryGetProperty("message", out var message) && message.GetString() is { } m)
            {
                text = m;
            }
        }
        catch (System.Text.Json.JsonException)
        {
        }

        return text.Length > 300 ? text[..300] + "…" : text;
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }
}

/// <summary>An <see cref="IProgress{T}"/> that runs its callback at once, on the reporting thread (Progress&lt;T&gt; posts it for later).</summary>
internal sealed class Immediate<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}
