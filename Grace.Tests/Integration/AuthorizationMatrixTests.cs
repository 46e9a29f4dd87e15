using System.Net;
using System.Text;
using Grace.Data;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Integration;

/// <summary>
/// Every endpoint and page the host maps, asked by every kind of caller: nobody, each role, and an
/// API key. The expected table is written out here, not derived from the code under test, and an
/// endpoint missing from it fails the test: a new route has to be classified before it ships.
/// </summary>
public sealed class AuthorizationMatrixTests : IAsyncLifetime
{
    private const string Password = "Matrix-Test-Password-1";
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;

    /// <summary>Who may use an endpoint, from least to most demanding.</summary>
    private enum Need
    {
        /// <summary>Anyone, signed in or not.</summary>
        Anyone,

        /// <summary>The endpoint authenticates callers itself (Slack's signature): not part of the matrix.</summary>
        OwnCheck,

        /// <summary>Any signed-in person.</summary>
        SignedIn,

        /// <summary>Operators and above, or an API key.</summary>
        Signals,

        Operator,
        Lead,
        Admin,

        /// <summary>An API key with the metrics:read scope (none of the matrix's callers).</summary>
        MetricsKey,
    }

    private enum Caller
    {
        Nobody,
        Viewer,
        Operator,
        Lead,
        Admin,
        ApiKey,
    }

    // "METHOD pattern" for endpoints, "PAGE pattern" for console pages.
    private static readonly Dictionary<string, Need> Expected = new(StringComparer.Ordinal)
    {
        ["PAGE /"] = Need.SignedIn,
        ["PAGE /incidents"] = Need.SignedIn,
        ["PAGE /incidents/{Id:guid}"] = Need.SignedIn,
        ["PAGE /approvals"] = Need.SignedIn,
        ["PAGE /missions"] = Need.SignedIn,
        ["PAGE /missions/{Id:guid}"] = Need.SignedIn,
        ["PAGE /playbooks"] = Need.SignedIn,
        ["PAGE /verification"] = Need.SignedIn,
        ["PAGE /learning"] = Need.SignedIn,
        ["PAGE /account/password"] = Need.SignedIn,
        ["PAGE /audit"] = Need.Lead,
        ["PAGE /suggestions"] = Need.Lead,
        ["PAGE /notifications"] = Need.Admin,
        ["PAGE /api-keys"] = Need.Admin,
        ["PAGE /faults"] = Need.Admin,
        ["PAGE /users"] = Need.Admin,
        ["PAGE /account/login"] = Need.Anyone,
        ["PAGE /account/denied"] = Need.Anyone,
        ["PAGE /not-found"] = Need.Anyone,
        ["PAGE /Error"] = Need.Anyone,

        ["POST /account/login"] = Need.Anyone,
        ["POST /account/logout"] = Need.Anyone,
        ["POST /account/password"] = Need.SignedIn,
        ["GET /healthz"] = Need.Anyone,
        // Prometheus' scrape endpoint (Grace:Telemetry:Metrics:Access = ApiKey by default): a key holding metrics:read only;
        // the matrix's key holds the ingestion scopes, so every caller here is refused.
        ["GET /metrics"] = Need.MetricsKey,
        ["GET /api/outcomes.csv"] = Need.SignedIn,
        ["GET /api/capture/stats"] = Need.SignedIn,
        ["GET /api/incidents/{id:guid}"] = Need.SignedIn,
        ["GET /api/faults"] = Need.Admin,
        ["POST /api/faults"] = Need.Admin,
        ["POST /api/keys"] = Need.Admin,
        ["DELETE /api/keys/{id:guid}"] = Need.Admin,
        ["POST /api/missions/{id:guid}/approve"] = Need.Operator,
        ["POST /api/missions/{id:guid}/reject"] = Need.Operator,
        ["POST /api/incidents/{id:guid}/acknowledge"] = Need.Operator,
        ["POST /api/incidents/{id:guid}/assign"] = Need.Operator,
        ["POST /api/incidents/{id:guid}/comment"] = Need.Operator,
        ["POST /api/incidents/{id:guid}/resolve"] = Need.Operator,
        ["POST /api/incidents/{id:guid}/run"] = Need.Operator,
        ["GET /api/suggestions"] = Need.Lead,
        ["GET /api/suggestions/{id:guid}"] = Need.Lead,
        ["POST /api/suggestions/{id:guid}/export"] = Need.Lead,
        ["POST /api/suggestions/{id:guid}/dismiss"] = Need.Lead,
        ["GET /api/trust"] = Need.SignedIn,
        ["POST /api/trust/suggestions/{id:guid}/accept"] = Need.Lead,
        ["POST /api/trust/suggestions/{id:guid}/decline"] = Need.Lead,
        ["POST /api/playbooks/{key}/shadow"] = Need.Lead,
        ["POST /api/signals"] = Need.Signals,
        ["POST /api/alertmanager"] = Need.Signals,
        ["POST /api/grafana"] = Need.Signals,
        ["POST /api/webhooks/{name}"] = Need.Signals,
        // OTLP/HTTP logs; other OTLP signals get a 404 that says Grace takes logs only, whoever asks.
        ["POST /v1/logs"] = Need.Signals,
        ["POST /v1/{**signal}"] = Need.Anyone,
        ["GET /api/otlp/stats"] = Need.SignedIn,
        ["POST /api/slack/interactions"] = Need.OwnCheck,
        ["GET /_blazor/negotiate"] = Need.SignedIn,
        ["GET /hubs/pipeline/negotiate"] = Need.SignedIn,
    };

    // Framework plumbing: the connection endpoints behind the negotiations above (refused without one),
    // Blazor's own files and the hub's and circuit's transports.
    private static readonly string[] Plumbing = ["/hubs/pipeline", "/_blazor", "/_blazor/initializers", "/_blazor/disconnect"];

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings())).Start();
        await _host.CreateUserAsync("vera", Password, GraceRoles.Viewer);
        await _host.CreateUserAsync("otto", Password, GraceRoles.Operator);
        await _host.CreateUserAsync("lena", Password, GraceRoles.Lead);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private static string KeyOf(RouteEndpoint endpoint, string method) =>
        endpoint.Metadata.Any(m => m.GetType().Name == "ComponentTypeMetadata")
            ? $"PAGE /{endpoint.RoutePattern.RawText!.Trim('/')}"
            : $"{method} /{endpoint.RoutePattern.RawText!.Trim('/')}";

    private static bool IsStaticFile(RouteEndpoint endpoint)
    {
        var raw = endpoint.RoutePattern.RawText!.TrimStart('/');
        return raw.Contains(":file}", StringComparison.Ordinal) || raw.StartsWith("_content/", StringComparison.Ordinal) || raw.StartsWith("_framework/", StringComparison.Ordinal)
            || (!raw.StartsWith("api/", StringComparison.Ordinal) && Path.HasExtension(raw) && !raw.Contains('{'));
    }

    private List<(string Key, string Method, string Path)> Routes()
    {
        var routes = new List<(string, string, string)>();
        foreach (var endpoint in _host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var raw = "/" + endpoint.RoutePattern.RawText!.Trim('/');
            if (IsStaticFile(endpoint) || Plumbing.Contains(raw))
            {
                continue;
            }

            var isPage = endpoint.Metadata.Any(m => m.GetType().Name == "ComponentTypeMetadata");
            var methods = isPage ? ["GET"] : endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            var path = System.Text.RegularExpressions.Regex.Replace(raw, "\\{[^}]*\\}", Guid.NewGuid().ToString());
            foreach (var method in methods.Distinct())
            {
                routes.Add((KeyOf(endpoint, method), method, path));
            }
        }

        return routes.DistinctBy(r => r.Item1).ToList();
    }

    [Fact]
    public void Every_endpoint_and_page_is_in_the_expected_table()
    {
        var mapped = Routes().Select(r => r.Key).ToHashSet();
        var unclassified = mapped.Except(Expected.Keys).Order().ToList();
        var gone = Expected.Keys.Except(mapped).Order().ToList();
        Assert.True(unclassified.Count == 0, "Endpoints the matrix does not classify (add them to Expected): " + string.Join(", ", unclassified));
        Assert.True(gone.Count == 0, "Expected endpoints the host no longer maps: " + string.Join(", ", gone));
    }

    [Fact]
    public async Task Every_caller_gets_exactly_what_its_role_allows_everywhere()
    {
        var clients = new Dictionary<Caller, HttpClient>
        {
            [Caller.Nobody] = Plain(),
            [Caller.Viewer] = await SignedInAsync("vera", Password),
            [Caller.Operator] = await SignedInAsync("otto", Password),
            [Caller.Lead] = await SignedInAsync("lena", Password),
            [Caller.Admin] = await SignedInAsync("admin", TestCatalog.AdminPassword),
            [Caller.ApiKey] = await KeyAsync(),
        };
        var failures = new List<string>();
        foreach (var (key, method, path) in Routes())
        {
            var need = Expected[key];
            if (need == Need.OwnCheck)
            {
                continue;
            }

            foreach (var (caller, client) in clients)
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path);
                if (method != "GET")
                {
                    // Never a valid body: an allowed caller gets 400/404/415, a refused one 401/403, and nothing changes.
                    request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
                }

                var response = await client.SendAsync(request);
                var status = (int)response.StatusCode;
                var location = response.Headers.Location?.OriginalString ?? "";
                var allowed = Allows(need, caller);
                var isPage = key.StartsWith("PAGE ", StringComparison.Ordinal);
                string? wrong = (allowed, isPage) switch
                {
                    (true, true) when status != 200 => $"expected 200, got {status} {location}",
                    (true, false) when status is 401 or 403 || status >= 500 => $"expected to pass authorization, got {status}",
                    (false, true) when status != 302 || !location.StartsWith(caller is Caller.Nobody or Caller.ApiKey ? "/account/login" : "/account/denied", StringComparison.Ordinal)
                        => $"expected a redirect to {(caller is Caller.Nobody or Caller.ApiKey ? "sign-in" : "denied")}, got {status} {location}",
                    (false, false) when !Refused(status, location, caller) => $"expected 401/403, got {status} {location}",
                    _ => null,
                };
                if (wrong is not null)
                {
                    failures.Add($"{key} as {caller}: {wrong}");
                }
            }
        }

        foreach (var client in clients.Values)
        {
            client.Dispose();
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    private static bool Refused(int status, string location, Caller caller) =>
        status is 401 or 403
        // The circuit's negotiation is a console path: a person without a session is sent to sign in.
        || (status == 302 && location.StartsWith("/account/login", StringComparison.Ordinal) && caller is Caller.Nobody or Caller.ApiKey);

    private static bool Allows(Need need, Caller caller) => need switch
    {
        Need.Anyone => true,
        Need.SignedIn => caller is Caller.Viewer or Caller.Operator or Caller.Lead or Caller.Admin,
        Need.Signals => caller is Caller.Operator or Caller.Lead or Caller.Admin or Caller.ApiKey,
        Need.Operator => caller is Caller.Operator or Caller.Lead or Caller.Admin,
        Need.Lead => caller is Caller.Lead or Caller.Admin,
        Need.Admin => caller is Caller.Admin,
        _ => false,
    };

    private HttpClient Plain() => _host.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });

    private async Task<HttpClient> SignedInAsync(string userName, string password) => _host.ClientWithCookie(await _host.SignInAsync(userName, password));

    private async Task<HttpClient> KeyAsync()
    {
        var (_, key) = await _host.Get<Grace.Engine.Capture.ApiKeyService>().CreateAsync("matrix", new Actor("admin", [GraceRoles.Admin]), default);
        var client = Plain();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
    }
}
