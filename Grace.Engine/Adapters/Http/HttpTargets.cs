using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Engine.Verify.Benchmarks;
using Microsoft.Extensions.DependencyInjection;
using Polly.Timeout;

namespace Grace.Engine.Adapters.Http;

/// <summary>A target that serves HTTP: an Http service, or a supervised process that declares its Url.</summary>
public interface IHttpEndpoint
{
    /// <summary>The base Url; null for a process that serves no HTTP.</summary>
    Uri? Url { get; }
}

/// <summary>The settings of an Http target: its base Url.</summary>
public sealed record HttpTarget(Uri Url) : IHttpEndpoint
{
    Uri? IHttpEndpoint.Url => Url;
}

/// <summary>An HTTP service (<c>Url</c>). A failed request is transient (a 5xx answer arrives as one); a 4xx refusal is not.</summary>
public sealed class HttpKind : TargetKindAdapter<HttpKind.Options>
{
    public static readonly TargetKind Id = new("Http");

    public override TargetKind Kind => Id;

    protected override TargetSettings Resolve(string key, Options options) => Uri.TryCreate(options.Url, UriKind.Absolute, out var url)
        ? TargetSettings.Of(new HttpTarget(url))
        : TargetSettings.Without("Url", "must be an absolute URL for an Http target");

    public override bool IsTransient(Exception exception) => exception is HttpRequestException or TimeoutException or TimeoutRejectedException;

    /// <summary><c>Grace:Targets:&lt;key&gt;</c> of an Http target.</summary>
    public sealed class Options
    {
        public string? Url { get; set; }
    }
}

/// <summary>An HTTP method Grace may call.</summary>
public enum HttpVerb
{
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// <summary>The parameters of <c>http.call</c>.</summary>
public sealed class HttpCallParameters : IValidatableObject
{
    public HttpVerb Method { get; init; } = HttpVerb.Post;

    [Required(ErrorMessage = "is required and starts with '/' (a path on the target's Url).")]
    public string Path { get; init; } = "";

    /// <summary>A JSON body to send, if any.</summary>
    public string? Body { get; init; }

    public HttpVerb RollbackMethod { get; init; } = HttpVerb.Post;

    /// <summary>The undo call; without it the call cannot be rolled back.</summary>
    public string? RollbackPath { get; init; }

    public string? RollbackBody { get; init; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrEmpty(Path) && !Path.StartsWith('/'))
        {
            yield return new ValidationResult("is required and starts with '/' (a path on the target's Url).", [nameof(Path)]);
        }

        if (RollbackPath is { } undo && !undo.StartsWith('/'))
        {
            yield return new ValidationResult("must start with '/' (a path on the target's Url).", [nameof(RollbackPath)]);
        }
    }
}

/// <summary>
/// <c>http.call</c>: calls an admin endpoint of an HTTP target (method, path and body from the
/// playbook), such as <c>POST /admin/cache/flush</c>. Whether it can be undone depends on the
/// service, so a playbook may name an undo call (<c>RollbackMethod</c>, <c>RollbackPath</c>,
/// <c>RollbackBody</c>). A 5xx answer or a timeout is transient and retried; a 4xx is not.
/// An approval holds for the service's health as the approvers saw it (its own health path, else
/// its root): answering under 400, failing (400 and above), or not answering. A service that
/// recovered, or went silent, since needs a new decision.
/// </summary>
public sealed class HttpCallExecutor(IHttpClientFactory httpFactory) : RemediationAction<HttpCallParameters>
{
    public override string Action => "http.call";
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(HttpKind.Id);
    public override bool CanRollback => true;

    protected override string Describe(ActionRequest request, HttpCallParameters p) =>
        $"Calls {Verb(p.Method)} {BaseUrl(request).ToString().TrimEnd('/')}{p.Path}"
        + (p.RollbackPath is { } undo ? $"; undo: {Verb(p.RollbackMethod)} {undo}." : "; no undo call is configured.");

    protected override async Task<SnapshotState> SnapshotAsync(ActionRequest request, HttpCallParameters p, CancellationToken cancellationToken)
    {
        // The state worth keeping is the service's health as its own check reads it (its path), else its root.
        var url = request.Target.Options.HealthCheck is { Probe: "http.status" } check && check.Parameters.TryGetValue("Path", out var healthPath)
            ? new Uri(BaseUrl(request), healthPath) : BaseUrl(request);
        using var client = httpFactory.CreateClient("grace-action");
        var status = -1;
        try
        {
            using var response = await client.GetAsync(url, cancellationToken);
            status = (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
        }

        var health = new HttpHealth(url.ToString(), status switch { < 0 => HttpAnswer.Silent, < 400 => HttpAnswer.Healthy, _ => HttpAnswer.Failing });
        var answered = status < 0 ? "nothing" : status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Consent.Snapshot(JsonSerializer.Serialize(new { url, status }), $"{url} answered {answered} before the call.", health,
            $"GET {url} answered {answered} ({health.Answer.ToString().ToLowerInvariant()})");
    }

    public override string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<HttpHealth>(approved) is { } was && Consent.Read<HttpHealth>(current) is { } now
            ? $"the service's health changed from {was.Answer.ToString().ToLowerInvariant()} to {now.Answer.ToString().ToLowerInvariant()} ({Consent.Compare(approved, current)})"
            : Consent.Compare(approved, current);

    protected override Task<ActionResult> ExecuteAsync(ActionRequest request, HttpCallParameters p, SnapshotState snapshot, CancellationToken cancellationToken) =>
        CallAsync(request, p.Method, p.Path, p.Body, $"{request.MissionId}", cancellationToken);

    protected override async Task<string> RollbackAsync(ActionRequest request, HttpCallParameters p, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        if (p.RollbackPath is not { } path)
        {
            throw new ActionRefusedException("This http.call playbook names no RollbackPath: the call cannot be undone.");
        }

        var result = await CallAsync(request, p.RollbackMethod, path, p.RollbackBody, $"{request.MissionId}:rollback", cancellationToken);
        return result.Message;
    }

    private async Task<ActionResult> CallAsync(ActionRequest request, HttpVerb verb, string path, string? body, string idempotencyKey, CancellationToken cancellationToken)
    {
        var method = Verb(verb);
        var url = new Uri(BaseUrl(request), path);
        using var client = httpFactory.CreateClient("grace-action");
        using var message = new HttpRequestMessage(new HttpMethod(method), url);
        // The same key on every retry of one mission's call: a service that honours it (as payment
        // and admin APIs commonly do) can refuse to do the same thing twice.
        message.Headers.Add("Idempotency-Key", idempotencyKey);
        message.Headers.Add("X-Grace-Mission", request.MissionId.ToString());
        if (body is not null)
        {
            message.Content = new StringContent(body, Encoding.UTF8);
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        using var response = await client.SendAsync(message, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var excerpt = text.Length > 500 ? text[..500] : text;
        if ((int)response.StatusCode >= 500)
        {
            throw new HttpRequestException($"{method} {url} answered {(int)response.StatusCode}: {excerpt}", null, response.StatusCode);
        }

        if (!response.IsSuccessStatusCode)
        {
            throw new ActionRefusedException($"{method} {url} answered {(int)response.StatusCode}: {excerpt}");
        }

        return new ActionResult($"{method} {url} answered {(int)response.StatusCode}.", JsonSerializer.Serialize(new { status = (int)response.StatusCode, body = excerpt }));
    }

    /// <summary>What a call to an admin endpoint depends on: how the service's health answered.</summary>
    internal sealed record HttpHealth(string Url, HttpAnswer Answer);

    /// <summary>How a service answered its health request.</summary>
    internal enum HttpAnswer
    {
        /// <summary>A status under 400.</summary>
        Healthy,
        /// <summary>A status of 400 or more.</summary>
        Failing,
        /// <summary>No answer at all.</summary>
        Silent,
    }

    private static string Verb(HttpVerb verb) => verb.ToString().ToUpperInvariant();

    private static Uri BaseUrl(ActionRequest request) => request.Target.Settings<HttpTarget>().Url;
}

/// <summary>The parameters of the HTTP probes.</summary>
public sealed class HttpProbeParameters : IValidatableObject
{
    /// <summary>The path to GET on the target's Url (default <c>/</c>).</summary>
    public string Path { get; init; } = "/";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Path.StartsWith('/'))
        {
            yield return new ValidationResult("must start with '/' (a path on the target's Url).", [nameof(Path)]);
        }
    }
}

/// <summary>
/// GET a path of a target that serves HTTP and read something of the answer; when nothing answers,
/// the reading fails. Reads Http targets and supervised processes that declare a Url.
/// </summary>
public abstract class HttpProbe(IHttpClientFactory httpFactory) : Probe<HttpProbeParameters>
{
    public override IReadOnlySet<TargetKind> TargetKinds { get; } = KindSets.Of(HttpKind.Id, Processes.ProcessKind.Id);

    public override IEnumerable<string> ValidateTarget(string targetKey, ResolvedTarget target) =>
        target.KindSettings is IHttpEndpoint { Url: not null } || target.KindSettings is null ? [] : [$"probe '{Key}' reads the target's Url, and Grace:Targets:{targetKey}:Url is not an absolute URL."];

    /// <summary>The value read from one answered request, timed by <paramref name="watch"/>.</summary>
    protected abstract double Read(HttpResponseMessage response, Stopwatch watch);

    protected override async Task<double> ReadAsync(ProbeRequest request, HttpProbeParameters p, CancellationToken cancellationToken)
    {
        var baseUrl = (request.Target.KindSettings as IHttpEndpoint)?.Url
            ?? throw new InvalidOperationException($"Target '{request.Target.Key}' has no Url (Grace:Targets:{request.Target.Key}:Url).");
        var url = new Uri(baseUrl, p.Path);
        using var client = httpFactory.CreateClient("grace-probe");
        var watch = Stopwatch.StartNew();
        // A service that does not answer has no status: the reading fails (and a health check with it), rather
        // than reading 0, which every "< 400" rule would take for healthy.
        try
        {
            using var response = await client.GetAsync(url, cancellationToken);
            return Read(response, watch);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The client's own timeout: a service that accepts and never answers, not a cancellation by Grace.
            throw new TimeoutException($"GET {url} did not answer within {client.Timeout.TotalSeconds:0} s.", ex);
        }
    }
}

/// <summary><c>http.status</c>: the status code of a GET.</summary>
public sealed class HttpStatusProbe(IHttpClientFactory httpFactory) : HttpProbe(httpFactory)
{
    public override string Key => "http.status";
    public override string Unit => "status";

    protected override double Read(HttpResponseMessage response, Stopwatch watch) => (int)response.StatusCode;
}

/// <summary><c>http.latency-ms</c>: how long a GET took to answer.</summary>
public sealed class HttpLatencyProbe(IHttpClientFactory httpFactory) : HttpProbe(httpFactory)
{
    public override string Key => "http.latency-ms";
    public override string Unit => "ms";

    protected override double Read(HttpResponseMessage response, Stopwatch watch) => watch.Elapsed.TotalMilliseconds;
}

/// <summary>Times GET requests of <c>Path</c> on the target's Url.</summary>
public sealed class HttpBenchmark(IHttpClientFactory httpFactory) : IBenchmarkSampler
{
    public string Kind => "Http";

    public IEnumerable<string> Validate(BenchmarkOptions benchmark, ResolvedTarget target)
    {
        if (target.KindSettings is not IHttpEndpoint { Url: not null })
        {
            yield return "Kind: an Http benchmark (the default Kind) times GET requests to the target's Url, and the target has no absolute Url; set Kind for a database benchmark.";
        }

        if (benchmark.Path is { } path && !path.StartsWith('/'))
        {
            yield return $"Path '{path}' must start with '/' (a path on the target's Url).";
        }
    }

    public async Task SampleAsync(ResolvedTarget target, BenchmarkOptions benchmark, double[] samples, CancellationToken cancellationToken)
    {
        var baseUrl = (target.KindSettings as IHttpEndpoint)?.Url ?? throw new InvalidOperationException($"Target '{target.Key}' has no Url for an HTTP benchmark.");
        using var client = httpFactory.CreateClient("grace-benchmark");
        var url = new Uri(baseUrl, benchmark.Path ?? "/");
        for (var i = 0; i < samples.Length; i++)
        {
            var watch = Stopwatch.StartNew();
            using var response = await client.GetAsync(url, cancellationToken);
            await response.Content.ReadAsByteArrayAsync(cancellationToken);
            samples[i] = watch.Elapsed.TotalMilliseconds;
        }
    }
}

public static class HttpTargetsExtensions
{
    /// <summary>The Http kind: calls to admin endpoints (with an undo call), status and latency probes, latency benchmarks.</summary>
    public static IServiceCollection AddHttpTargets(this IServiceCollection services)
    {
        services.AddSingleton<ITargetKindAdapter, HttpKind>();
        services.AddHttpClient("grace-action", c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddHttpClient("grace-probe", c => c.Timeout = TimeSpan.FromSeconds(5));
        services.AddHttpClient("grace-benchmark", c => c.Timeout = TimeSpan.FromSeconds(10));
        services.AddSingleton<IRemediationExecutor, HttpCallExecutor>();
        services.AddSingleton<IProbe, HttpStatusProbe>();
        services.AddSingleton<IProbe, HttpLatencyProbe>();
        services.AddSingleton<IBenchmarkSampler, HttpBenchmark>();
        services.AddSingleton<Faults.IFaultDemo, HealthEndpointFault>();
        return services;
    }
}
