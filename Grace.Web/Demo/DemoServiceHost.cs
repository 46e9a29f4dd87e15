using System.Net;
using Grace.Engine.Configuration;
using Grace.Engine.Faults;
using Microsoft.Extensions.Options;

namespace Grace.Web.Demo;

/// <summary>
/// Serves the demo "orders" service on the loopback Url of the target named by
/// <c>Grace:Faults:DemoServiceTarget</c>, on its own Kestrel listener, so Grace's health checks,
/// benchmarks and <c>http.call</c> actions reach it over real HTTP like any other service:
/// <c>GET /health</c>, <c>GET /orders</c> and <c>POST /admin/reset-pool</c>. On port 0 (the shipped
/// setting) the system picks a free port and the target's Url follows it. Nothing listens when
/// the catalog has no such target; anything but an http:// loopback Url is refused (the demo never listens outside this machine).
/// </summary>
public sealed partial class DemoServiceHost(
    IOptionsMonitor<FaultOptions> faults,
    IOptionsMonitor<CatalogOptions> catalog,
    Grace.Engine.Targets.TargetRegistry targets,
    DemoService state,
    Grace.Engine.Cluster.GraceInstance instance,
    ILogger<DemoServiceHost> logger) : IHostedService, IAsyncDisposable
{
    // While stuck, a request waits this long for a pool connection before it fails, as it would on a real service.
    private static readonly TimeSpan PoolWait = TimeSpan.FromMilliseconds(100);
    private WebApplication? _app;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var key = faults.CurrentValue.DemoServiceTarget;
        if (string.IsNullOrWhiteSpace(key) || !catalog.CurrentValue.Targets.TryGetValue(key, out var target))
        {
            // A catalog without the demo targets (as in production) has no demo service: nothing to say.
            return;
        }

        if (instance.IsClustered && !string.Equals(instance.InstanceOf(target), instance.Name, StringComparison.OrdinalIgnoreCase))
        {
            // One demo service per cluster, on the instance its target names (the catalog check requires one).
            return;
        }

        var url = targets.Resolve(key).KindSettings is Grace.Engine.Adapters.Http.HttpTarget http ? http.Url : null;
        if (url is null || url.Scheme != Uri.UriSchemeHttp || Loopback(url) is not { } address)
        {
            LogNotServed(key, target.Kind, url?.ToString());
            return;
        }

        // An empty builder: no configuration files or environment variables that could add endpoints
        // (a Kestrel:Endpoints entry would), only the one loopback listener set here.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [], EnvironmentName = Environments.Production });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o => o.Listen(address, url.Port));
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        app.MapGet("/health", () => state.Failure is { } failure
            ? Results.Json(new { status = "Unhealthy", reason = failure, since = state.FailingSince }, statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Json(new { status = "Healthy" }));
        app.MapGet("/orders", async (CancellationToken ct) =>
        {
            if (state.Failure is { } failure)
            {
                await Task.Delay(PoolWait, ct);
                return Results.Json(new { error = $"No connection within {PoolWait.TotalMilliseconds:0} ms: {failure}" }, statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            state.CountOrder();
            return Results.Json(new { orders = new[] { new { id = 1042, status = "shipped" }, new { id = 1043, status = "packing" } } });
        });
        app.MapPost("/admin/reset-pool", () => Results.Json(new { reset = state.Reset() }));
        try
        {
            await app.StartAsync(cancellationToken);
            _app = app;
            if (url.Port == 0)
            {
                // Port 0: the system chose a free one (so two Graces on one machine never clash); probes,
                // actions and benchmarks of the target use the address it really has from now on.
                var bound = new Uri(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                    .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First());
                url = new UriBuilder(url) { Port = bound.Port }.Uri;
                targets.UseSettings(key, new Grace.Engine.Adapters.Http.HttpTarget(url));
            }

            state.MarkListening(url);
            LogListening(key, url);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The port is taken (a second Grace, say) or cannot be bound: Grace runs on without its demo service.
            LogCannotListen(ex, key, url);
            await app.DisposeAsync();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        state.MarkListening(null);
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
            _app = null;
        }
    }

    /// <summary>The loopback address to listen on for a Url, or null when it is not a loopback one.</summary>
    private static IPAddress? Loopback(Uri url) =>
        IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) ? (IPAddress.IsLoopback(address) ? address : null)
        : url.IsLoopback ? IPAddress.Loopback : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "The demo service is not started: Grace:Targets:{Target} (named by Grace:Faults:DemoServiceTarget) must be an Http target whose Url is http:// on a loopback address; it is {Kind} with Url {Url}")]
    private partial void LogNotServed(string target, TargetKind kind, string? url);

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo service {Target} listening on {Url}")]
    private partial void LogListening(string target, Uri url);

    [LoggerMessage(Level = LogLevel.Error, Message = "Demo service {Target} could not listen on {Url} (Grace:Targets:{Target}:Url); Grace runs without it")]
    private partial void LogCannotListen(Exception exception, string target, Uri url);
}
