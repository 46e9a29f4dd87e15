using System.Net.Http.Json;
using Grace.Engine.Adapters.Unleash;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;

namespace Grace.Tests.Adapters.Unleash;

/// <summary>
/// The Unleash server scripts/test.sh starts on loopback (<c>GRACE_TEST_UNLEASH</c>, with the admin
/// token <c>GRACE_TEST_UNLEASH_TOKEN</c>). It is started early and answers about a minute later, so
/// the tests wait for it. Each test makes its own flags.
/// </summary>
public static class UnleashServer
{
    public const string Environment = "production";

    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(240);
    private static readonly Lazy<Task> Ready = new(WaitUntilReadyAsync);
    private static readonly Lazy<Task<string>> Backend = new(() => CreateBackendTokenAsync(Environment));

    private static string Env(string name) => System.Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"{name} is not set: run the tests with `bash scripts/test.sh`, which starts an Unleash server for them.");

    public static Uri Url => new(Env("GRACE_TEST_UNLEASH").TrimEnd('/') + "/");

    /// <summary>The admin token: it must never show anywhere.</summary>
    public static string AdminToken => Env("GRACE_TEST_UNLEASH_TOKEN");

    /// <summary>Waits (once per run) until the server answers; a clear failure if it never does.</summary>
    public static Task ReadyAsync() => Ready.Value;

    /// <summary>A backend token of <see cref="Environment"/>, made once per run with the admin token.</summary>
    public static async Task<string> ClientTokenAsync()
    {
        await ReadyAsync();
        return await Backend.Value;
    }

    public static UnleashApi Api() => new(new PlainHttpClients(), TimeProvider.System);

    public static ResolvedTarget Target(string key, string clientToken, Uri? url = null, string? adminToken = null) =>
        new(key, UnleashKind.Id, null, new TargetOptions { Kind = UnleashKind.Id }, new UnleashTarget(url ?? Url, adminToken ?? AdminToken, clientToken, "default", Environment));

    /// <summary>Makes a flag in the default project, on or off in <see cref="Environment"/>; returns its name.</summary>
    public static async Task<string> CreateFlagAsync(bool enabled)
    {
        await ReadyAsync();
        var name = $"grace-{Guid.NewGuid():N}"[..22];
        using var http = Admin();
        var created = await http.PostAsJsonAsync("api/admin/projects/default/features", new { name, type = "kill-switch" });
        Assert.True(created.IsSuccessStatusCode, $"Unleash refused to create flag {name}: {await created.Content.ReadAsStringAsync()}");
        if (enabled)
        {
            await SetAsync(name, true);
        }

        return name;
    }

    /// <summary>Turns a flag on or off behind Grace's back.</summary>
    public static async Task SetAsync(string flag, bool enabled)
    {
        using var http = Admin();
        var response = await http.PostAsync($"api/admin/projects/default/features/{flag}/environments/{Environment}/{(enabled ? "on" : "off")}", null);
        Assert.True(response.IsSuccessStatusCode, $"Unleash refused to turn {flag} {(enabled ? "on" : "off")}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Reads until SDKs are served the flag as <paramref name="enabled"/> (Unleash's client cache lags a change by a few seconds).</summary>
    public static async Task ServedAsync(ResolvedTarget target, string flag, bool enabled)
    {
        var api = Api();
        for (var until = DateTime.UtcNow.AddSeconds(20); ; await Task.Delay(200))
        {
            try
            {
                if (await api.ServedEnabledAsync((UnleashTarget)target.KindSettings!, flag, default) == enabled || DateTime.UtcNow > until)
                {
                    return;
                }
            }
            catch (UnleashCallException) when (DateTime.UtcNow < until)
            {
                // A flag just made is not served until the cache catches up.
            }
        }
    }

    /// <summary>A backend (SDK) token of an environment.</summary>
    public static async Task<string> CreateBackendTokenAsync(string environment)
    {
        await ReadyAsync();
        using var http = Admin();
        var response = await http.PostAsJsonAsync("api/admin/api-tokens", new { type = "backend", environment, projects = AllProjects, tokenName = $"grace-tests-{Guid.NewGuid():N}"[..24] });
        Assert.True(response.IsSuccessStatusCode, $"Unleash refused to make a backend token: {await response.Content.ReadAsStringAsync()}");
        var token = await response.Content.ReadFromJsonAsync<TokenAnswer>();
        return token!.Secret;
    }

    private static readonly string[] AllProjects = ["*"];

    private sealed record TokenAnswer(string Secret);

    private static HttpClient Admin()
    {
        var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", AdminToken);
        return http;
    }

    private static async Task WaitUntilReadyAsync()
    {
        var url = new Uri(Url, "health");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var last = "no answer yet";
        for (var until = DateTime.UtcNow + StartLimit; DateTime.UtcNow < until; await Task.Delay(1000))
        {
            try
            {
                using var response = await http.GetAsync(url);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                last = ex.Message;
            }
        }

        var log = System.Environment.GetEnvironmentVariable("GRACE_TEST_UNLEASH_LOG");
        throw new InvalidOperationException($"The Unleash server bash scripts/test.sh started at {Url} was not ready within {StartLimit.TotalSeconds:0} s (last: {last})."
            + (log is { Length: > 0 } && File.Exists(log) ? $" Its log ({log}) ends: {string.Join(" | ", File.ReadLines(log).TakeLast(8))}" : ""));
    }

    private sealed class PlainHttpClients : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => new(new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = UnleashApi.ReadLimit }) { Timeout = Timeout.InfiniteTimeSpan };
    }
}
