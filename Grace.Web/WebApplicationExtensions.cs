using Grace.Engine.Adapters.Logging;
using Grace.Web.Api;
using Grace.Web.Components;
using Grace.Web.Formatting;
using Grace.Web.Hubs;
using Grace.Web.Identity;
using Grace.Web.Otlp;
using Grace.Web.Security;
using Grace.Web.Telemetry;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;
using MudBlazor.Services;
using Serilog;

namespace Grace.Web;

public static class WebApplicationExtensions
{
    /// <summary>The environment variable that names the configuration file to use instead of the root <c>appsettings.json</c>.</summary>
    public const string SettingsVariable = "GRACE_SETTINGS";

    /// <summary>
    /// Loads the operator's one configuration file, <c>appsettings.json</c> at the repository root
    /// (or beside the binaries when published), in the place of the project's own, so environment
    /// variables and the command line still override it. <c>GRACE_SETTINGS</c> names another file
    /// to use instead (one per instance, a staging catalog).
    /// </summary>
    public static WebApplicationBuilder AddGraceConfiguration(this WebApplicationBuilder builder)
    {
        var file = Environment.GetEnvironmentVariable(SettingsVariable) is { Length: > 0 } named
            ? Path.GetFullPath(named)
            : FindSettings(builder.Environment.ContentRootPath) ?? Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        if (!File.Exists(file))
        {
            throw new FileNotFoundException($"Grace's configuration file {file} does not exist (from {SettingsVariable} or the repository root).", file);
        }

        var sources = builder.Configuration.Sources;
        var index = sources.Select((s, i) => (s, i)).FirstOrDefault(x => x.s is JsonConfigurationSource { Path: "appsettings.json" }, (null!, -1)).i;
        var source = new JsonConfigurationSource
        {
            Path = Path.GetFileName(file),
            FileProvider = new PhysicalFileProvider(Path.GetDirectoryName(file)!),
            Optional = false,
            ReloadOnChange = false,
        };
        if (index >= 0)
        {
            // In the place of the project's own copy: the copy beside the binaries must not add back what the chosen file leaves out.
            sources[index] = source;
        }
        else
        {
            sources.Insert(0, source);
        }

        return builder;
    }

    /// <summary>Console, API, hub and logging.</summary>
    public static WebApplicationBuilder AddGraceWeb(this WebApplicationBuilder builder)
    {
        // Serve MudBlazor's and the framework's files from the build output in any environment, so
        // `dotnet Grace.Web.dll` runs in Production without a publish (a published app has them in wwwroot).
        builder.WebHost.UseStaticWebAssets();
        var services = builder.Services;
        services.AddSerilog((sp, logger) =>
        {
            logger.ReadFrom.Configuration(builder.Configuration).ReadFrom.Services(sp).Enrich.FromLogContext();
            sp.GetRequiredService<LogLevelController>().Apply(logger);
        });
        Telemetry.CachingLoggerFactory.CacheLoggers(services);

        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddMudServices();
        services.AddScoped<Components.Shell.ShellStatus>();
        services.AddGraceConsoleFormatting();
        services.AddGraceIdentity();
        services.AddGraceHttp();
        if (builder.Environment.IsDevelopment() && builder.Configuration["Grace:Faults:Enabled"] is null)
        {
            // The fault-injection demo is on by default where people try Grace out, off elsewhere.
            services.PostConfigure<Grace.Engine.Faults.FaultOptions>(o => o.Enabled = true);
        }

        services.AddHostedService<Demo.DemoServiceHost>();
        services.AddGraceIngestion();
        services.AddGraceOtlp();
        services.AddSignalR();
        services.AddHostedService<PipelineHubForwarder>();
        services.AddProblemDetails();
        builder.AddGraceTelemetry();
        // Enums travel as names ("CacheFill", "AwaitingApproval"), as people and scripts write them.
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(allowIntegerValues: false)));
        return builder;
    }

    /// <summary>The request pipeline: console pages, the signals API and the pipeline hub.</summary>
    public static WebApplication MapGrace(this WebApplication app)
    {
        // First: forwarded headers decide the scheme and address everything after sees; every answer, errors included, gets the headers.
        app.UseGraceHttp();
        if (!app.Environment.IsDevelopment())
        {
            app.UseExceptionHandler("/Error", createScopeForErrors: true);
        }

        // People get a page for a missing address; programs (API, hub) keep their status code and problem details.
        // Not inside a UseWhen branch: from a branch the re-executed request is not routed again and the
        // browser gets an empty 404 (its own error page). Programs are excluded by switching the feature off.
        app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
        app.Use((context, next) =>
        {
            var path = context.Request.Path;
            // Only a page someone navigates to gets the not-found page: a form post refused with 400
            // (a missing form token) must keep its answer, not be re-run as a page that reads its form.
            var navigation = HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method);
            if ((!navigation || path.StartsWithSegments("/api") || path.StartsWithSegments("/hubs") || path.StartsWithSegments("/v1") || path.StartsWithSegments(GraceTelemetryExtensions.MetricsPath))
                && context.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodePagesFeature>() is { } pages)
            {
                pages.Enabled = false;
            }

            return next(context);
        });
        // A client's mistake is never logged at Error: Grace's own Error log opens incidents.
        app.UseSerilogRequestLogging(o => o.GetLevel = (context, _, exception) =>
            exception is not null && ClientErrors.Describe(exception, context) is null || context.Response.StatusCode >= 500
                ? Serilog.Events.LogEventLevel.Error
                : Serilog.Events.LogEventLevel.Information);
        app.UseClientErrors();
        app.UseWhen(context => context.Request.Path.StartsWithSegments("/api"), branch => branch.Use(AnswerDatabaseOutagesAsync));
        app.UseAuthentication();
        app.UseGraceConnectionLimits();
        app.UseAuthorization();
        app.UseIngestionRateLimit();
        app.UseAntiforgery();
        app.MapStaticAssets().AllowAnonymous();
        // The Content-Security-Policy (SecurityHeaders) already refuses every frame; Blazor's own header would be a second one.
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode(o =>
        {
            o.ContentSecurityFrameAncestorsPolicy = null;
            // Browsers offer permessage-deflate on every WebSocket and Blazor accepts it by default. Each circuit's
            // socket then keeps zlib state (a compressor with a 32 KB window and its buffers, and an inflater): measured
            // at ≈ 390 KB per circuit with it, ≈ 165 KB without server context takeover, nothing when off
            // (docs/benchmarks.md, issue 13). A console's render batches are small diffs; memory per tab matters more.
            o.DisableWebSocketCompression = true;
        });
        app.MapAccountEndpoints();
        app.MapConsoleEndpoints();
        app.MapSignalEndpoints();
        app.MapOtlpEndpoints();
        app.MapAlertmanagerEndpoints();
        app.MapWebhookEndpoints();
        app.MapSlackEndpoints();
        app.MapIncidentEndpoints();
        app.MapSuggestionEndpoints();
        app.MapGraceTelemetry();
        app.MapTrustEndpoints();
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok" })).AllowAnonymous().WithName("Health");
        // Long polling (one request per message) is not offered, so every open connection is one request the caps count.
        app.MapHub<PipelineHub>("/hubs/pipeline", o => o.Transports = Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets
            | Microsoft.AspNetCore.Http.Connections.HttpTransportType.ServerSentEvents).RequireAuthorization();
        return app;
    }

    /// <summary>
    /// A program calling the API during a database outage gets a quick, clear 503 with Retry-After
    /// (the key check included), never a 500 after a minute of retries.
    /// </summary>
    private static async Task AnswerDatabaseOutagesAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception ex) when (Grace.Data.DatabaseErrors.IsUnavailable(ex) && !context.Response.HasStarted)
        {
            context.RequestServices.GetRequiredService<ILogger<Program>>()
                .LogWarning("{Method} {Path} answered 503: Grace's database is unavailable ({Error})", context.Request.Method, context.Request.Path, ex.GetBaseException().Message);
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "5";
            await Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Grace's database is unavailable.",
                detail: "Nothing was changed by this request. Retry after a few seconds.").ExecuteAsync(context);
        }
    }

    private static string? FindSettings(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "appsettings.json");
            if (File.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "Grace.Console.sln")))
            {
                return candidate;
            }
        }

        return null;
    }
}
