using System.Text.Json;

namespace Grace.Engine.Adapters.Unleash;

/// <summary>
/// A call to Unleash that failed, in Grace's words; <see cref="Transient"/> when a retry may succeed
/// (a 5xx answer, 429, a connection that failed). It derives from <see cref="InvalidOperationException"/>
/// on purpose: that is how an action tells the engine a snapshot cannot be taken, so the mission
/// fails saying why instead of being retried as if Grace's own database were away.
/// </summary>
public sealed class UnleashCallException(string message, bool transient, Exception? inner = null) : InvalidOperationException(message, inner)
{
    public bool Transient { get; } = transient;
}

/// <summary>A flag in one environment, as the admin API stores it.</summary>
public sealed record FlagInEnvironment(string Flag, string Project, string Environment, bool Enabled, int Strategies)
{
    public string Describe() => $"flag '{Flag}' {(Enabled ? "on" : "off")} in {Environment}";
}

/// <summary>
/// The Unleash calls Grace makes. Flags are read and changed through the admin API (the stored
/// state, exact at once); what SDKs see is read from the client API (<c>/api/client/features</c>,
/// the very payload SDKs poll) with a client token, after Unleash's own client cache, which lags a
/// change by a few seconds. Tokens travel in the Authorization header only, never in a URL or a message.
/// </summary>
public sealed class UnleashApi(IHttpClientFactory httpFactory, TimeProvider time)
{
    public const string HttpClientName = "grace-unleash";

    /// <summary>The longest a read may take: well under the 10 s a snapshot or a probe has in all.</summary>
    public static readonly TimeSpan ReadLimit = TimeSpan.FromSeconds(4);

    /// <summary>The longest a change may take to be accepted.</summary>
    public static readonly TimeSpan WriteLimit = TimeSpan.FromSeconds(10);

    /// <summary>The flag's state in the target's environment, from the admin API.</summary>
    public async Task<FlagInEnvironment> ReadAsync(UnleashTarget target, string flag, CancellationToken cancellationToken)
    {
        var path = $"api/admin/projects/{Uri.EscapeDataString(target.Project)}/features/{Uri.EscapeDataString(flag)}";
        using var json = await SendAsync(target, HttpMethod.Get, path, target.AdminToken, "the admin token", $"reading flag '{flag}'", ReadLimit, cancellationToken);
        var root = json.RootElement;
        if (root.TryGetProperty("archived", out var archived) && archived.ValueKind == JsonValueKind.True)
        {
            throw new UnleashCallException($"Flag '{flag}' of project '{target.Project}' is archived in Unleash at {Where(target)}: revive it before Grace turns it on or off.", transient: false);
        }

        var environments = root.TryGetProperty("environments", out var list) && list.ValueKind == JsonValueKind.Array ? list.EnumerateArray().ToList() : [];
        var match = environments.FirstOrDefault(e => e.TryGetProperty("name", out var name) && name.GetString() == target.Environment);
        if (match.ValueKind != JsonValueKind.Object)
        {
            var names = string.Join(", ", environments.Select(e => e.TryGetProperty("name", out var n) ? n.GetString() : null).Where(n => n is not null));
            throw new UnleashCallException($"Flag '{flag}' of project '{target.Project}' has no environment '{target.Environment}' in Unleash at {Where(target)} (it has: {(names.Length > 0 ? names : "none")}).", transient: false);
        }

        var enabled = match.TryGetProperty("enabled", out var on) && on.ValueKind == JsonValueKind.True;
        var strategies = match.TryGetProperty("strategies", out var s) && s.ValueKind == JsonValueKind.Array ? s.GetArrayLength() : 0;
        return new FlagInEnvironment(flag, target.Project, target.Environment, enabled, strategies);
    }

    /// <summary>Turns the flag on or off in the target's environment (Unleash adds its default strategy when a flag without one is turned on).</summary>
    public async Task SetAsync(UnleashTarget target, string flag, bool enabled, CancellationToken cancellationToken)
    {
        var path = $"api/admin/projects/{Uri.EscapeDataString(target.Project)}/features/{Uri.EscapeDataString(flag)}/environments/{Uri.EscapeDataString(target.Environment)}/{(enabled ? "on" : "off")}";
        using var _ = await SendAsync(target, HttpMethod.Post, path, target.AdminToken, "the admin token", $"turning flag '{flag}' {(enabled ? "on" : "off")}", WriteLimit, cancellationToken);
    }

    /// <summary>Whether SDKs of the target's environment are served the flag enabled, from the client API with the client token.</summary>
    public async Task<bool> ServedEnabledAsync(UnleashTarget target, string flag, CancellationToken cancellationToken)
    {
        var token = target.ClientToken ?? throw new Execute.ActionRefusedException("This Unleash target has no ClientToken: Grace cannot read its flags as SDKs see them.");
        var path = $"api/client/features?project={Uri.EscapeDataString(target.Project)}&namePrefix={Uri.EscapeDataString(flag)}";
        using var json = await SendAsync(target, HttpMethod.Get, path, token, "the client token", $"reading flag '{flag}' as SDKs see it", ReadLimit, cancellationToken);
        var root = json.RootElement;
        // A client token is bound to one environment, whatever the request asks: check it is the target's.
        if (root.TryGetProperty("query", out var query) && query.TryGetProperty("environment", out var environment)
            && environment.GetString() is { } served && served != target.Environment)
        {
            throw new UnleashCallException($"The ClientToken of this target reads environment '{served}', and its Environment is '{target.Environment}': give it a token of '{target.Environment}'.", transient: false);
        }

        if (root.TryGetProperty("features", out var features) && features.ValueKind == JsonValueKind.Array)
        {
            foreach (var feature in features.EnumerateArray())
            {
                if (feature.TryGetProperty("name", out var name) && name.GetString() == flag)
                {
                    return feature.TryGetProperty("enabled", out var on) && on.ValueKind == JsonValueKind.True;
                }
            }
        }

        throw new UnleashCallException($"Flag '{flag}' is not served to SDKs of project '{target.Project}' in {target.Environment} by Unleash at {Where(target)} (missing, archived, or outside the client token's projects).", transient: false);
    }

    private static string Where(UnleashTarget target) => target.Url.GetLeftPart(UriPartial.Path).TrimEnd('/');

    private async Task<JsonDocument> SendAsync(UnleashTarget target, HttpMethod method, string path, string token, string tokenName, string what, TimeSpan limit, CancellationToken cancellationToken)
    {
        var url = new Uri(target.Url, path);
        using var deadline = new CancellationTokenSource(limit, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        using var request = new HttpRequestMessage(method, url);
        request.Headers.TryAddWithoutValidation("Authorization", token);
        request.Headers.Accept.ParseAdd("application/json");
        using var client = httpFactory.CreateClient(HttpClientName);
        try
        {
            using var response = await client.SendAsync(request, linked.Token);
            var text = await response.Content.ReadAsStringAsync(linked.Token);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return text.Length == 0 ? JsonDocument.Parse("{}") : JsonDocument.Parse(text);
            }

            var said = MessageOf(text);
            throw status switch
            {
                401 => new UnleashCallException($"Unleash at {Where(target)} refused {tokenName} ({status}) while {what}: {said} Check the token Grace is given.", transient: false),
                403 => new UnleashCallException($"Unleash at {Where(target)} does not let {tokenName} do this ({status}) while {what}: {said}", transient: false),
                404 => new UnleashCallException($"Unleash at {Where(target)} found nothing ({status}) while {what} in project '{target.Project}': {said}", transient: false),
                _ => new UnleashCallException($"Unleash at {Where(target)} answered {status} while {what}: {said}", transient: status >= 500 || status == 429),
            };
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // Not retried: a server that did not answer in time would most likely run into Grace's own
            // timeout on a retry, and that error could not say which call hung.
            throw new UnleashCallException($"Unleash at {Where(target)} did not answer within {limit.TotalSeconds:0} s while {what}.", transient: false, ex);
        }
        catch (HttpRequestException ex)
        {
            throw new UnleashCallException($"Unleash at {Where(target)} could not be reached while {what}: {ex.Message}", transient: true, ex);
        }
        catch (JsonException ex)
        {
            throw new UnleashCallException($"Unleash at {Where(target)} answered something that is not JSON while {what}: is Url the Unleash server?", transient: false, ex);
        }
    }

    /// <summary>Unleash's own explanation of an error (its <c>message</c>), or a short excerpt of the answer.</summary>
    private static string MessageOf(string text)
    {
        try
        {
            using var json = JsonDocument.Parse(text);
            if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("message", out var message) && message.GetString() is { Length: > 0 } said)
            {
                return said.EndsWith('.') ? said : said + ".";
            }
        }
        catch (JsonException)
        {
        }

        var excerpt = text.Trim();
        return excerpt.Length > 200 ? excerpt[..200] + "…" : excerpt.Length == 0 ? "(no explanation)." : excerpt;
    }
}
