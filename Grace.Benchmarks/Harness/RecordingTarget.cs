using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Grace.Benchmarks.Harness;

/// <summary>
/// A service outside Grace that Grace acts on over real HTTP (loopback), and that remembers every
/// call: which target, which mission (Grace's <c>X-Grace-Mission</c> header), when it started and
/// ended. It lives in the harness process, so it outlives every Grace the harness kills: it is the
/// witness for "never two actions on one target at once" and "never the same action twice".
/// </summary>
internal sealed class RecordingTarget : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ActionCall> _actions = new();
    private readonly ConcurrentQueue<ActionCall> _undos = new();

    private RecordingTarget(WebApplication app) => _app = app;

    /// <summary>One call as the target saw it.</summary>
    public sealed record ActionCall(string Target, string? Mission, string? IdempotencyKey, DateTimeOffset Started, DateTimeOffset Ended);

    public int Port { get; private set; }

    /// <summary>How long an action takes on the target unless <see cref="SlowTargets"/> says otherwise.</summary>
    public TimeSpan ActionTime { get; set; } = TimeSpan.Zero;

    /// <summary>Per target, how long its action takes instead (a slow action to kill an instance in the middle of).</summary>
    public ConcurrentDictionary<string, TimeSpan> SlowTargets { get; } = new(StringComparer.Ordinal);

    /// <summary>Called when an action starts (target, mission), before it answers.</summary>
    public Action<string, string?>? OnAction { get; set; }

    public IReadOnlyCollection<ActionCall> Actions => _actions;
    public IReadOnlyCollection<ActionCall> Undos => _undos;

    /// <summary>The Url to configure for every target (each has its own paths under <c>/t/{target}/</c>).</summary>
    public string Url => $"http://127.0.0.1:{Port}/";

    /// <summary>A path of one target: <c>act</c>, <c>undo</c>, <c>ok</c>.</summary>
    public static string PathOf(string target, string what) => $"/t/{target}/{what}";

    public static async Task<RecordingTarget> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [], EnvironmentName = Environments.Production });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o => o.Listen(System.Net.IPAddress.Loopback, 0));
        builder.Services.AddRoutingCore();
        // The harness owns Ctrl+C and SIGTERM (Interruption); the default console lifetime would take them for this host alone.
        builder.Services.AddSingleton<IHostLifetime, HarnessOwnsSignals>();
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var target = new RecordingTarget(app);
        app.MapPost("/t/{name}/act", async (string name, HttpRequest request) =>
        {
            var started = DateTimeOffset.UtcNow;
            var mission = request.Headers["X-Grace-Mission"].FirstOrDefault();
            target.OnAction?.Invoke(name, mission);
            var time = target.SlowTargets.TryGetValue(name, out var slow) ? slow : target.ActionTime;
            if (time > TimeSpan.Zero)
            {
                // Not cancelled when the caller goes away: a real service finishes what it was asked
                // to do even when the instance that asked was killed meanwhile.
                await Task.Delay(time, CancellationToken.None);
            }

            target._actions.Enqueue(new ActionCall(name, mission, request.Headers["Idempotency-Key"].FirstOrDefault(), started, DateTimeOffset.UtcNow));
            return Results.Ok(new { done = true });
        });
        app.MapPost("/t/{name}/undo", (string name, HttpRequest request) =>
        {
            var now = DateTimeOffset.UtcNow;
            target._undos.Enqueue(new ActionCall(name, request.Headers["X-Grace-Mission"].FirstOrDefault(), request.Headers["Idempotency-Key"].FirstOrDefault(), now, now));
            return Results.Ok();
        });
        app.MapGet("/t/{name}/ok", () => Results.Ok(new { status = "ok" }));
        await app.StartAsync();
        target.Port = new Uri(app.Urls.First()).Port;
        return target;
    }

    /// <summary>
    /// Calls on one target that started before an earlier call on it had ended (each paired with the
    /// earlier call that ends last): what must never happen.
    /// </summary>
    public List<(ActionCall First, ActionCall Second)> Overlaps(Func<ActionCall, bool>? where = null)
    {
        var overlaps = new List<(ActionCall, ActionCall)>();
        foreach (var calls in _actions.Where(where ?? (_ => true)).GroupBy(a => a.Target))
        {
            ActionCall? longest = null;
            foreach (var call in calls.OrderBy(a => a.Started))
            {
                if (longest is not null && call.Started < longest.Ended)
                {
                    overlaps.Add((longest, call));
                }

                if (longest is null || call.Ended > longest.Ended)
                {
                    longest = call;
                }
            }
        }

        return overlaps;
    }

    /// <summary>Missions whose action reached the target more than once.</summary>
    public List<string> Duplicates(Func<ActionCall, bool>? where = null) =>
        [.. _actions.Where(where ?? (_ => true)).Where(a => a.Mission is not null).GroupBy(a => a.Mission!).Where(g => g.Count() > 1).Select(g => g.Key)];

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A host lifetime that leaves the process's signals to the harness.</summary>
internal sealed class HarnessOwnsSignals : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
