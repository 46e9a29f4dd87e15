using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;
using Grace.Engine.Verify;

namespace Grace.Engine.Execute;

/// <summary>
/// <c>http.call</c>: calls an admin endpoint of an HTTP target (method, path and body from the
/// playbook), such as <c>POST /admin/cache/flush</c>. Whether it can be undone depends on the
/// service, so a playbook may name an undo call (<c>RollbackMethod</c>, <c>RollbackPath</c>,
/// <c>RollbackBody</c>). A 5xx answer or a timeout is transient and retried; a 4xx is not.
/// An approval holds for the service's health as the approvers saw it (its own health path, else
/// its root): answering under 400, failing (400 and above), or not answering. A service that
/// recovered, or went silent, since needs a new decision.
/// </summary>
public sealed class HttpCallExecutor(IHttpClientFactory httpFactory) : IRemediationExecutor
{
    private static readonly string[] Methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    public string Action => "http.call";
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Http };
    public bool CanRollback => true;

    public IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters)
    {
        if (!parameters.TryGetValue("Path", out var path) || !path.StartsWith('/'))
        {
            yield return "Parameters:Path is required and starts with '/' (a path on the target's Url).";
        }

        foreach (var key in new[] { "Method", "RollbackMethod" })
        {
            if (parameters.TryGetValue(key, out var method) && !Methods.Contains(method.ToUpperInvariant()))
            {
                yield return $"Parameters:{key} '{method}' is not one of {string.Join(", ", Methods)}.";
            }
        }
    }

    public string Describe(ActionRequest request) =>
        $"Calls {Method(request, "Method")} {request.Target.Url?.TrimEnd('/')}{request.Parameters["Path"]}"
        + (request.Parameters.ContainsKey("RollbackPath") ? $"; undo: {Method(request, "RollbackMethod")} {request.Parameters["RollbackPath"]}." : "; no undo call is configured.");

    public async Task<SnapshotState> SnapshotAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        // The state worth keeping is the service's health as its own check reads it (its path), else its root.
        var url = request.Target.Options?.HealthCheck is { Probe: "http.status" } check && check.Parameters.TryGetValue("Path", out var healthPath)
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

    public string DescribeDrift(SnapshotState approved, SnapshotState current) =>
        Consent.Read<HttpHealth>(approved) is { } was && Consent.Read<HttpHealth>(current) is { } now
            ? $"the service's health changed from {was.Answer.ToString().ToLowerInvariant()} to {now.Answer.ToString().ToLowerInvariant()} ({Consent.Compare(approved, current)})"
            : Consent.Compare(approved, current);

    public Task<ActionResult> ExecuteAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken) =>
        CallAsync(request, Method(request, "Method"), request.Parameters["Path"], request.Parameters.GetValueOrDefault("Body"), $"{request.MissionId}", cancellationToken);

    public async Task<string> RollbackAsync(ActionRequest request, SnapshotState snapshot, CancellationToken cancellationToken)
    {
        if (!request.Parameters.TryGetValue("RollbackPath", out var path))
        {
            throw new ActionRefusedException("This http.call playbook names no RollbackPath: the call cannot be undone.");
        }

        var result = await CallAsync(request, Method(request, "RollbackMethod"), path, request.Parameters.GetValueOrDefault("RollbackBody"), $"{request.MissionId}:rollback", cancellationToken);
        return result.Message;
    }

    private async Task<ActionResult> CallAsync(ActionRequest request, string method, string path, string? body, string idempotencyKey, CancellationToken cancellationToken)
    {
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

    private static string Method(ActionRequest request, string key) => request.Parameters.TryGetValue(key, out var m) ? m.ToUpperInvariant() : "POST";

    private static Uri BaseUrl(ActionRequest request) =>
        Uri.TryCreate(request.Target.Url, UriKind.Absolute, out var url) ? url : throw new ActionRefusedException($"Target '{request.Target.Key}' has no valid Url.");
}

/// <summary>
/// <c>http.status</c> and <c>http.latency-ms</c>: GET a path of an HTTP target (<c>Path</c>, default
/// <c>/</c>) and read the status code or the time it took; when nothing answers, the reading fails. Reads Http
/// targets and supervised processes that declare a Url.
/// </summary>
public sealed class HttpHealthProbe(IHttpClientFactory httpFactory, string key) : IProbe
{
    public string Key => key;
    public string Unit => key == "http.status" ? "status" : "ms";
    // A supervised process that serves HTTP declares its Url too, so its health check can be an HTTP one.
    public IReadOnlySet<TargetKind> TargetKinds { get; } = new HashSet<TargetKind> { TargetKind.Http, TargetKind.Process };

    public IEnumerable<string> ValidateTarget(string targetKey, TargetOptions target) =>
        Uri.TryCreate(target.Url, UriKind.Absolute, out _) ? [] : [$"probe '{key}' reads the target's Url, and Grace:Targets:{targetKey}:Url is not an absolute URL."];

    public async Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken)
    {
        var url = new Uri(new Uri(request.Target.Url ?? throw new InvalidOperationException($"Target '{request.Target.Key}' has no Url (Grace:Targets:{request.Target.Key}:Url).")), request.Parameters.GetValueOrDefault("Path") ?? "/");
        using var client = httpFactory.CreateClient("grace-probe");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        // A service that does not answer has no status: the reading fails (and a health check with it), rather
        // than reading 0, which every "< 400" rule would take for healthy.
        try
        {
            using var response = await client.GetAsync(url, cancellationToken);
            return key == "http.status" ? (int)response.StatusCode : watch.Elapsed.TotalMilliseconds;
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The client's own timeout: a service that accepts and never answers, not a cancellation by Grace.
            throw new TimeoutException($"GET {url} did not answer within {client.Timeout.TotalSeconds:0} s.", ex);
        }
    }
}
