using System.Globalization;
using Docker.DotNet.Models;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Adapters.Containers;

/// <summary>
/// Watches the event stream of every configured engine and reports what a person would want to
/// know as signals from <c>container:&lt;target&gt;</c>: a container that died (a crash: Critical;
/// a clean exit: Warning), one the kernel killed for memory, one whose HEALTHCHECK turned unhealthy
/// (and a resolving signal when it is healthy again). Deaths Grace causes itself (its own stop or
/// restart) are not reported. When an engine goes away the watcher reconnects with backoff
/// (1 s doubling to 30 s) and asks for the events it missed since the last one it saw.
/// </summary>
public sealed class ContainerEventWatcher(IServiceProvider services, ContainerEngines engines, ISignalSink sink, TimeProvider time, ILogger<ContainerEventWatcher> logger)
    : BackgroundService
{
    private readonly Dictionary<string, EngineState> _engines = new(StringComparer.Ordinal);

    /// <summary>Per engine: connected now, and the last error when it is not.</summary>
    public IReadOnlyDictionary<string, (bool Connected, string? Error)> Status =>
        _engines.ToDictionary(e => e.Key, e => (e.Value.Connected, e.Value.Error), StringComparer.Ordinal);

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Resolved here: the catalog's validator needs the executors, and this watcher is registered beside them.
        var catalog = services.GetRequiredService<IOptionsMonitor<CatalogOptions>>().CurrentValue;
        var targets = services.GetRequiredService<Targets.TargetRegistry>();
        var placement = services.GetRequiredService<Cluster.TargetPlacement>();
        var watched = catalog.Targets
            .Where(t => t.Value.Kind == ContainerKind.Id && placement.Owns(t.Key))
            .Select(t => (t.Key, Target: targets.SettingsOf(t.Key, t.Value).Value as ContainerTarget))
            .Where(t => t.Target is not null)
            .GroupBy(t => t.Target!.Endpoint, StringComparer.Ordinal)
            .ToList();
        foreach (var engine in watched)
        {
            _engines[engine.Key] = new EngineState(engine.Select(t => (t.Key, t.Target!.Container.TrimStart('/'))).ToList());
        }

        return Task.WhenAll(_engines.Select(e => WatchAsync(e.Key, e.Value, stoppingToken)));
    }

    private async Task WatchAsync(string endpoint, EngineState state, CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromSeconds(1);
        DateTimeOffset? since = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var client = ContainerEngines.ForStream(endpoint);
                using (var ping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
                {
                    ping.CancelAfter(ContainerEngines.CallTimeout);
                    await client.System.PingAsync(ping.Token);
                }

                if (!state.Connected)
                {
                    logger.LogInformation("Watching container events on {Endpoint}{Since}", endpoint, since is { } s ? $" (replaying from {s:u})" : "");
                }

                state.Connected = true;
                state.Error = null;
                backoff = TimeSpan.FromSeconds(1);
                var parameters = new ContainerEventsParameters
                {
                    Filters = new Dictionary<string, IDictionary<string, bool>> { ["type"] = new Dictionary<string, bool> { ["container"] = true } },
                    // After a reconnection, the engine replays what happened while the stream was down.
                    Since = since?.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
                };
                await client.System.MonitorEventsAsync(parameters, new Immediate<Message>(m =>
                {
                    since = Observe(state, m) ?? since;
                }), stoppingToken);
                // The stream ended without an error: the engine is going away.
                throw new IOException("the event stream ended");
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                if (state.Connected || state.Error is null)
                {
                    logger.LogWarning("Container events from {Endpoint} are not available ({Error}); trying again with backoff", endpoint, ex.Message);
                }

                state.Connected = false;
                state.Error = ex.Message;
                since ??= time.GetUtcNow();
                try
                {
                    await Task.Delay(backoff, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                backoff = TimeSpan.FromSeconds(Math.Min(30, backoff.TotalSeconds * 2));
            }
        }
    }

    /// <summary>Turns one engine event into a signal when it concerns a configured container; returns the event's time.</summary>
    private DateTimeOffset? Observe(EngineState state, Message message)
    {
        DateTimeOffset? at = message.TimeNano is { } nano and > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(nano / 1_000_000)
            : message.Time is { } seconds and > 0 ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
        var id = message.Actor?.ID ?? "";
        var attributes = message.Actor?.Attributes ?? new Dictionary<string, string>();
        var name = attributes.TryGetValue("name", out var n) ? n : "";
        var action = message.Action ?? "";
        var key = $"{message.TimeNano}:{id}:{action}";
        if (!state.Seen.Add(key))
        {
            return at; // Replayed after a reconnection: reported already.
        }

        if (state.Seen.Count > 1000)
        {
            state.Seen.Clear();
            state.Seen.Add(key);
        }

        var target = state.Targets.FirstOrDefault(t => string.Equals(t.Container, name, StringComparison.Ordinal)
            || (t.Container.Length >= 12 && id.StartsWith(t.Container, StringComparison.OrdinalIgnoreCase))).Key;
        if (target is null)
        {
            return at;
        }

        var when = at ?? time.GetUtcNow();
        var labels = new Dictionary<string, string> { ["container"] = name, ["container_id"] = id, ["container_event"] = action.Split(':')[0].Trim() };
        if (action == "die")
        {
            var code = attributes.TryGetValue("exitCode", out var c) ? c : "unknown";
            if (engines.TakeExpectedStop(id))
            {
                logger.LogDebug("Container {Container} of {Target} stopped by Grace (exit code {Code})", name, target, code);
                return at;
            }

            labels["exit_code"] = code;
            sink.TryWrite(new Signal($"{SignalSources.Container}{target}", $"Container {target} ({name}) died with exit code {code}", code == "0" ? Severity.Warning : Severity.Critical, when,
                MessageTemplate: $"Container {target} died", Target: target, Labels: labels, ReportedBy: "engine"));
        }
        else if (action == "oom")
        {
            sink.TryWrite(new Signal($"{SignalSources.Container}{target}", $"Container {target} ({name}) ran out of memory: the kernel killed a process in it", Severity.Critical, when,
                MessageTemplate: $"Container {target} ran out of memory", Target: target, Labels: labels, ReportedBy: "engine"));
        }
        else if (action.StartsWith("health_status", StringComparison.Ordinal))
        {
            // Docker says "health_status: unhealthy"; Podman says "health_status" with the status as an attribute.
            var status = action.Contains(':', StringComparison.Ordinal) ? action[(action.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()
                : attributes.TryGetValue("health_status", out var h) ? h : "";
            var template = $"Container {target} is unhealthy";
            if (status == "unhealthy")
            {
                state.Unhealthy.Add(target);
                sink.TryWrite(new Signal($"{SignalSources.Container}{target}", $"Container {target} ({name}) is unhealthy: its HEALTHCHECK fails", Severity.Error, when,
                    MessageTemplate: template, Target: target, Labels: labels, ReportedBy: "engine"));
            }
            else if (status == "healthy" && state.Unhealthy.Remove(target))
            {
                sink.TryWrite(new Signal($"{SignalSources.Container}{target}", $"Container {target} ({name}) is healthy again", Severity.Information, when,
                    MessageTemplate: template, Target: target, Labels: labels, ReportedBy: "engine", Resolved: true));
            }
        }

        return at;
    }

    private sealed class EngineState(List<(string Key, string Container)> targets)
    {
        public List<(string Key, string Container)> Targets { get; } = targets;
        public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Unhealthy { get; } = new(StringComparer.OrdinalIgnoreCase);
        public volatile bool Connected;
        public volatile string? Error;
    }
}
