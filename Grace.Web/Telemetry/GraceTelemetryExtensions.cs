using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Telemetry;
using Grace.Web.Api;
using Microsoft.Extensions.Options;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Grace.Web.Telemetry;

/// <summary>Who may read <c>/metrics</c>.</summary>
public enum MetricsAccess
{
    /// <summary>Anyone who reaches Grace: for a Prometheus on a private network.</summary>
    Anonymous,

    /// <summary>An API key holding the <c>metrics:read</c> scope (<c>Authorization: Bearer grace_…</c>, Prometheus' <c>authorization</c> setting).</summary>
    ApiKey,

    /// <summary>No <c>/metrics</c> endpoint (OTLP export may still send the metrics).</summary>
    Disabled,
}

/// <summary>How OTLP is spoken to the collector.</summary>
public enum OtlpProtocol
{
    HttpProtobuf,
    Grpc,
}

/// <summary>Grace's own telemetry: <c>Grace:Telemetry</c> in <c>appsettings.json</c>.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Grace:Telemetry";

    /// <summary>The <c>service.name</c> of Grace's traces and metrics.</summary>
    public string ServiceName { get; set; } = "grace";

    public MetricsOptions Metrics { get; set; } = new();

    public OtlpOptions Otlp { get; set; } = new();

    public sealed class MetricsOptions
    {
        /// <summary>Who may scrape <c>/metrics</c>: <c>ApiKey</c> unless configured, since the metrics name playbooks and targets.</summary>
        public MetricsAccess Access { get; set; } = MetricsAccess.ApiKey;
    }

    public sealed class OtlpOptions
    {
        /// <summary>The collector, e.g. <c>http://otel-collector:4318</c>; empty (the default) exports nothing over OTLP.</summary>
        public string? Endpoint { get; set; }

        public OtlpProtocol Protocol { get; set; } = OtlpProtocol.HttpProtobuf;

        /// <summary>Extra headers for the collector (an API key), as <c>name=value</c> pairs separated by commas.</summary>
        public string? Headers { get; set; }

        /// <summary>Send traces (missions and requests).</summary>
        public bool Traces { get; set; } = true;

        /// <summary>Send metrics.</summary>
        public bool Metrics { get; set; } = true;
    }
}

/// <summary>Checks <c>Grace:Telemetry</c> at start, naming the key at fault.</summary>
public sealed class TelemetryOptionsValidator : IValidateOptions<TelemetryOptions>
{
    public ValidateOptionsResult Validate(string? name, TelemetryOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ServiceName))
        {
            errors.Add("Grace:Telemetry:ServiceName must not be empty.");
        }

        if (!Enum.IsDefined(options.Metrics.Access))
        {
            errors.Add($"Grace:Telemetry:Metrics:Access must be one of {string.Join(", ", Enum.GetNames<MetricsAccess>())}.");
        }

        if (options.Otlp.Endpoint is { Length: > 0 } endpoint
            && (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            errors.Add($"Grace:Telemetry:Otlp:Endpoint must be an absolute http or https address, such as http://otel-collector:4318 (it is '{endpoint}').");
        }

        if (options.Otlp.Headers is { Length: > 0 } headers && headers.Split(',').Any(h => !h.Contains('=', StringComparison.Ordinal) || h.Split('=')[0].Trim().Length == 0))
        {
            errors.Add("Grace:Telemetry:Otlp:Headers must be name=value pairs separated by commas.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// Grace's own traces and metrics with OpenTelemetry: the engine's <c>Grace.Engine</c> activity
/// source and <c>Grace</c> meter, ASP.NET Core's requests, a Prometheus scrape endpoint and an
/// optional OTLP exporter, all from <c>Grace:Telemetry</c>.
/// </summary>
public static class GraceTelemetryExtensions
{
    /// <summary>The scrape endpoint's path.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>The policy of <c>/metrics</c> under <see cref="MetricsAccess.ApiKey"/>.</summary>
    public const string MetricsPolicy = "metrics:read";

    public static WebApplicationBuilder AddGraceTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TelemetryOptions>, TelemetryOptionsValidator>();
        // Bound here too (the exporters are chosen while services are registered); the validator above stops a bad value at start.
        var options = builder.Configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        var otlp = options.Otlp.Endpoint is { Length: > 0 } e && Uri.TryCreate(e, UriKind.Absolute, out var endpoint) ? endpoint : null;

        builder.Services.AddAuthorizationBuilder().AddPolicy(MetricsPolicy, p => p
            .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser()
            .RequireAssertion(c => !c.User.HasClaim(ApiKeyAuthenticationHandler.RevokedClaim, "true")
                && c.User.HasClaim(ApiKeyAuthenticationHandler.ScopeClaim, ApiKeyLimits.ScopeNames[ApiKeyScopes.Metrics])));

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(options.ServiceName, serviceInstanceId: builder.Configuration["Grace:Cluster:InstanceName"] ?? Environment.MachineName))
            .WithTracing(tracing =>
            {
                tracing.AddSource(GraceMetrics.ActivitySourceName);
                // Requests are traced too, except the scrapes and health checks that would drown them.
                tracing.AddAspNetCoreInstrumentation(o => o.Filter = c => !c.Request.Path.StartsWithSegments(MetricsPath) && !c.Request.Path.StartsWithSegments("/healthz"));
                if (otlp is not null && options.Otlp.Traces)
                {
                    tracing.AddOtlpExporter(o => Configure(o, options.Otlp, otlp, "v1/traces"));
                }
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(GraceMetrics.MeterName);
                // How long writes wait for and hold SQLite's one writer, by lane (the embedded default only).
                metrics.AddMeter(Grace.Data.SqliteWriterMetrics.MeterName);
                metrics.AddAspNetCoreInstrumentation();
                if (options.Metrics.Access != MetricsAccess.Disabled)
                {
                    metrics.AddPrometheusExporter();
                }

                if (otlp is not null && options.Otlp.Metrics)
                {
                    metrics.AddOtlpExporter(o => Configure(o, options.Otlp, otlp, "v1/metrics"));
                }
            });
        _ = telemetry;
        return builder;
    }

    private static void Configure(OtlpExporterOptions exporter, TelemetryOptions.OtlpOptions options, Uri endpoint, string signalPath)
    {
        exporter.Protocol = options.Protocol == OtlpProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
        // Over HTTP the exporter posts to the address as given: the signal's path is added to a bare collector address.
        exporter.Endpoint = options.Protocol == OtlpProtocol.HttpProtobuf && endpoint.AbsolutePath is "/" or ""
            ? new Uri(endpoint, signalPath)
            : endpoint;
        exporter.Headers = options.Headers;
    }

    /// <summary>Maps <c>/metrics</c> with the configured access (nothing when disabled), and creates Grace's instruments at start.</summary>
    public static WebApplication MapGraceTelemetry(this WebApplication app)
    {
        // The observable instruments exist from the start, not from the first mission.
        _ = app.Services.GetRequiredService<GraceMetrics>();
        var access = app.Services.GetRequiredService<IOptions<TelemetryOptions>>().Value.Metrics.Access;
        if (access == MetricsAccess.Disabled)
        {
            // Said plainly, rather than left to the console's router: a scraper's owner learns what to change.
            app.MapGet(MetricsPath, () => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Metrics are disabled.",
                detail: "Grace:Telemetry:Metrics:Access is Disabled on this instance; set it to Anonymous or ApiKey to serve /metrics.")).AllowAnonymous();
            return app;
        }

        var endpoint = app.MapPrometheusScrapingEndpoint(MetricsPath);
        if (access == MetricsAccess.Anonymous)
        {
            endpoint.AllowAnonymous();
        }
        else
        {
            endpoint.RequireAuthorization(MetricsPolicy).WithMetadata(new RequiredApiKeyScope(ApiKeyScopes.Metrics));
        }

        return app;
    }
}
