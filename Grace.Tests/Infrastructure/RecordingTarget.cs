using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Grace.Tests.Infrastructure;

/// <summary>
/// A service outside Grace that Grace acts on over real HTTP, and that remembers every call: which
/// target, which mission (Grace's <c>X-Grace-Mission</c> header), when it started and ended. It is
/// the witness for "never two actions on one target at once" and "never the same action twice".
/// </summary>
public sealed class RecordingTarget : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ActionCall> _actions = new();
    private readonly ConcurrentQueue<ActionCall> _undos = new();
    private readonly ConcurrentDictionary<string, int> _healthHits = new(StringComparer.Ordinal);

    private RecordingTarget(WebApplication app) => _app = app;

    /// <summary>One call as the target saw it.</summary>
    public sealed record ActionCall(string Target, string? Mission, DateTimeOffset Started, DateTimeOffset Ended);

    public int Port { get; private set; }

    /// <summary>How long an action takes on the target (long enough that two at once would overlap).</summary>
    public TimeSpan ActionTime { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Per target, how long its action takes instead (a slow action to kill an instance in the middle of).</summary>
    public ConcurrentDictionary<string, TimeSpan> SlowTargets { get; } = new(StringComparer.Ordinal);

    /// <summary>Called when an action starts, before it answers (to cut a database in the middle of one).</summary>
    public Func<string, Task>? OnAction { get; set; }

    public IReadOnlyCollection<ActionCall> Actions => _actions;
    public IReadOnlyCollection<ActionCall> Undos => _undos;
    public int HealthHits(string target) => _healthHits.GetValueOrDefault(target);

    /// <summary>The Url to configure for every target (each has its own paths under <c>/t/{target}/</c>).</summary>
    public string Url => $"http://127.0.0.1:{Port}/";

    /// <summary>A path of one target: <c>act</c>, <c>undo</c>, <c>ok</c>, <c>slow-ok</c> (a second late), <c>health</c>.</summary>
    public static string PathOf(string target, string what) => $"/t/{target}/{what}";

    public static async Task<RecordingTarget> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [], EnvironmentName = Environments.Production });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o => o.Listen(System.Net.IPAddress.Loopback, 0));
        builder.Services.AddRoutingCore();
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var target = new RecordingTarget(app);
        app.MapPost("/t/{name}/act", async (string name, HttpRequest request) =>
        {
            var started = DateTimeOffset.UtcNow;
            if (target.OnAction is { } hook)
            {
                await hook(name);
            }

            await Task.Delay(target.SlowTargets.TryGetValue(name, out var slow) ? slow : target.ActionTime);
            target._actions.Enqueue(new ActionCall(name, request.Headers["X-Grace-Mission"].FirstOrDefault(), started, DateTimeOffset.UtcNow));
            return Results.Ok(new { done = true });
        });
        app.MapPost("/t/{name}/undo", (string name, HttpRequest request) =>
        {
            target._undos.Enqueue(new ActionCall(name, request.Headers["X-Grace-Mission"].FirstOrDefault(), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow));
            return Results.Ok();
        });
        app.MapGet("/t/{name}/ok", () => Results.Ok(new { status = "ok" }));
        app.MapGet("/t/{name}/slow-ok", async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            return Results.Ok(new { status = "ok" });
        });
        app.MapGet("/t/{name}/health", (string name) =>
        {
            target._healthHits.AddOrUpdate(name, 1, (_, n) => n + 1);
            return Results.Ok(new { status = "ok" });
        });
        await app.StartAsync();
        target.Port = new Uri(app.Urls.First()).Port;
        return target;
    }

    /// <summary>Pairs of calls on one target whose times overlap: what must never happen.</summary>
    public List<(ActionCall First, ActionCall Second)> Overlaps() =>
        [.. _actions.GroupBy(a => a.Target).SelectMany(g =>
        {
            var calls = g.OrderBy(a => a.Started).ToList();
            return calls.Zip(calls.Skip(1)).Where(p => p.Second.Started < p.First.Ended);
        })];

    /// <summary>Missions whose action reached the target more than once.</summary>
    public List<string> Duplicates() =>
        [.. _actions.Where(a => a.Mission is not null).GroupBy(a => a.Mission!).Where(g => g.Count() > 1).Select(g => g.Key)];

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
