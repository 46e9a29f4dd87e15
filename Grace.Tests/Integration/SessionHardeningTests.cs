using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Grace.Data;
using Grace.Data.Entities;
using Microsoft.AspNetCore.SignalR.Client;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Grace.Tests.Integration;

/// <summary>
/// Sessions and the console's side of the trust boundary (issue 13, part B): sign-out, return URLs,
/// brute force, headers, hosts and proxies, on the real host.
/// </summary>
public sealed partial class SessionHardeningTests : IAsyncLifetime
{
    private const string Password = "Session-Test-Password-1";
    private readonly TempFolder _folder = new();
    private readonly PasswordChecks _checks = new();
    private TestDatabase _database = null!;
    private GraceHost _host = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);
        _host = await StartAsync([]);
        await _host.CreateUserAsync("olivia", Password, GraceRoles.Operator);
        await _host.CreateUserAsync("quentin", Password, GraceRoles.Viewer);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    /// <summary>
    /// A host on the test's database with extra settings; the password hasher counts checks per user, and a
    /// test header stands in for the connection's peer address (the test server has none).
    /// </summary>
    private Task<GraceHost> StartAsync(IEnumerable<KeyValuePair<string, string?>> extra)
    {
        var settings = new Dictionary<string, string?>();
        foreach (var (key, value) in TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(extra))
        {
            settings[key] = value;
        }

        return Task.FromResult(new GraceHost(settings, services =>
        {
            services.AddScoped<IPasswordHasher<GraceUser>>(sp => new CountingHasher(
                new PasswordHasher<GraceUser>(sp.GetRequiredService<IOptions<PasswordHasherOptions>>()), _checks));
            services.AddSingleton<Microsoft.AspNetCore.Hosting.IStartupFilter, PeerFromHeader>();
        }).Start());
    }

    /// <summary>Grace again on the same database with other settings (on SQLite one instance at a time).</summary>
    private async Task<GraceHost> RestartAsync(string key, string value)
    {
        await _host.DisposeAsync();
        _host = await StartAsync([new(key, value)]);
        return _host;
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();

    private static List<string> CookiesOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values) ? values.Select(v => v.Split(';')[0]).ToList() : [];

    private static HttpClient Plain(GraceHost host, string? baseAddress = null) => host.CreateClient(new WebApplicationFactoryClientOptions
    {
        AllowAutoRedirect = false, HandleCookies = false, BaseAddress = new Uri(baseAddress ?? "http://localhost"),
    });

    /// <summary>A form page's antiforgery token and the cookies that go with it.</summary>
    private static async Task<(string Token, string Cookies)> FormAsync(HttpClient client, string path, string? cookie = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        var page = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var token = TokenField().Match(await page.Content.ReadAsStringAsync()).Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(token));
        var cookies = CookiesOf(page);
        if (cookie is not null)
        {
            cookies.Insert(0, cookie);
        }

        return (token, string.Join("; ", cookies));
    }

    private static async Task<HttpResponseMessage> PostFormAsync(HttpClient client, string path, string cookies, Dictionary<string, string> fields)
    {
        using var post = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(fields) };
        post.Headers.Add("Cookie", cookies);
        return await client.SendAsync(post);
    }

    private static async Task<HttpResponseMessage> SignInAsync(HttpClient client, string userName, string password, string returnUrl = "/")
    {
        var (token, cookies) = await FormAsync(client, "/account/login");
        return await PostFormAsync(client, "/account/login", cookies, new()
        {
            ["userName"] = userName, ["password"] = password, ["returnUrl"] = returnUrl, ["__RequestVerificationToken"] = token,
        });
    }

    private async Task<HttpStatusCode> StatsAsync(string cookie)
    {
        using var client = _host.ClientWithCookie(cookie);
        return (await client.GetAsync("/api/capture/stats")).StatusCode;
    }

    [Fact]
    public async Task Sign_out_needs_the_form_token_and_ends_every_copy_of_the_cookie()
    {
        var session = await _host.SignInAsync("olivia", Password);
        var copied = session;
        using var client = Plain(_host);

        // A cross-site form sends the cookie but cannot read the token: refused, and the session goes on.
        var forged = await PostFormAsync(client, "/account/logout", session, []);
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal(HttpStatusCode.OK, await StatsAsync(session));

        var (token, cookies) = await FormAsync(client, "/account/password", session);
        var signedOut = await PostFormAsync(client, "/account/logout", cookies, new() { ["__RequestVerificationToken"] = token });
        Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
        Assert.Equal("/account/login", signedOut.Headers.Location?.OriginalString);

        // The copy taken before signing out is refused at once (revalidation here is every 60 s: the stamp check does it).
        Assert.Equal(HttpStatusCode.Unauthorized, await StatsAsync(copied));
        await using var db = _host.CreateDb();
        Assert.Contains(db.AuditEntries.ToList(), a => a.Action == "account.sign-out" && a.Actor == "olivia");

        // Signing in again works.
        Assert.Equal(HttpStatusCode.OK, await StatsAsync(await _host.SignInAsync("olivia", Password)));
    }

    [Theory]
    [InlineData("/\t/evil.example/")]
    [InlineData("/\n/evil.example/")]
    [InlineData("//evil.example/")]
    [InlineData("/\\evil.example/")]
    [InlineData("https://evil.example/")]
    [InlineData("http:evil.example")]
    [InlineData("javascript:alert(1)")]
    [InlineData("/ok\r\nSet-Cookie: x=1")]
    [InlineData("/\u0000")]
    [InlineData("evil.example")]
    public async Task A_correct_sign_in_with_a_hostile_return_url_goes_home(string returnUrl)
    {
        using var client = Plain(_host);
        var response = await SignInAsync(client, "olivia", Password, returnUrl);
        if (returnUrl.Contains('\0', StringComparison.Ordinal))
        {
            // A NUL byte in a form is refused by ASP.NET Core's form reader before Grace reads it: a
            // 400, no sign-in, never a 500.
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.DoesNotContain(response.Headers.TryGetValues("Set-Cookie", out var set) ? set : [], c => c.StartsWith(".AspNetCore.Identity", StringComparison.Ordinal));
            return;
        }

        Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var location = response.Headers.Location!.OriginalString;
        Assert.True(location.StartsWith('/') && !location.StartsWith("//", StringComparison.Ordinal) && !location.Contains("evil", StringComparison.Ordinal),
            $"redirected to {location}");
        Assert.Equal("/", location);
    }

    [Fact]
    public async Task A_local_return_url_is_kept_and_the_form_never_echoes_a_hostile_one()
    {
        using var client = Plain(_host);
        var response = await SignInAsync(client, "olivia", Password, "/incidents?status=Open");
        Assert.Equal("/incidents?status=Open", response.Headers.Location?.OriginalString);

        var page = await client.GetAsync("/account/login?returnUrl=/%09/evil.example/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("name=\"returnUrl\" value=\"/\"", await page.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Sign_in_attempts_from_one_address_are_limited_with_retry_after()
    {
        var host = await RestartAsync("Grace:Identity:SignInAttemptsPerMinute", "3");
        using var client = Plain(host);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Redirect, (await SignInAsync(client, "olivia", $"wrong-{i}")).StatusCode);
        }

        var limited = await SignInAsync(client, "olivia", Password);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        var retryAfter = int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 60);
        Assert.Contains("Too many sign-in attempts", await limited.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Parallel_guesses_check_at_most_the_lockout_count_of_passwords()
    {
        using var client = Plain(_host);
        var (token, cookies) = await FormAsync(client, "/account/login");
        var guesses = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => PostFormAsync(client, "/account/login", cookies, new()
        {
            ["userName"] = "quentin", ["password"] = $"Guess-{i}-wrong", ["returnUrl"] = "/", ["__RequestVerificationToken"] = token,
        })));
        Assert.All(guesses, g => Assert.Equal(HttpStatusCode.Redirect, g.StatusCode));

        // Identity's default: 5 failures lock the account. However many arrive at once, at most 5 passwords were checked.
        var max = _host.Get<IOptions<IdentityOptions>>().Value.Lockout.MaxFailedAccessAttempts;
        var checkedPasswords = _checks.Of("quentin");
        Assert.True(checkedPasswords >= 1 && checkedPasswords <= max, $"{checkedPasswords} passwords were checked; the lockout allows {max}");
        Assert.Contains(guesses, g => g.Headers.Location!.OriginalString.Contains("error=locked", StringComparison.Ordinal));
        var right = await SignInAsync(client, "quentin", Password);
        Assert.Contains("error=locked", right.Headers.Location?.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_user_is_refused_as_slowly_as_a_known_one()
    {
        using var client = Plain(_host);
        var before = _checks.Of("stand-in");
        var unknown = new List<double>();
        var known = new List<double>();
        for (var i = 0; i < 8; i++)
        {
            var clock = Stopwatch.StartNew();
            await SignInAsync(client, $"nobody-{i}", "Wrong-Password-1");
            unknown.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            // Four wrong passwords: the known user is never locked out here, every check is a real one.
            await SignInAsync(client, i % 2 == 0 ? "olivia" : "quentin", "Wrong-Password-1");
            known.Add(clock.Elapsed.TotalMilliseconds);
        }

        // Each unknown user's password was hashed against the stand-in, as a known user's is against theirs.
        Assert.Equal(8, _checks.Of("stand-in") - before);
        var (u, k) = (Median(unknown), Median(known));
        Assert.True(u >= k * 0.5, $"unknown users answered in {u:F0} ms (median), known ones in {k:F0} ms");
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    [GeneratedRegex("script-src 'self' 'nonce-([^']+)'")]
    private static partial Regex ScriptNonce();

    [Fact]
    public async Task Pages_and_api_answers_carry_the_security_headers()
    {
        using var client = Plain(_host);
        var page = await client.GetAsync("/account/login");
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());
        var csp = Assert.Single(page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'self'", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Contains("object-src 'none'", csp);
        Assert.DoesNotContain("unsafe-eval", csp);
        // The import map is the one inline script, allowed by this response's nonce; a nonce is never reused.
        var nonce = ScriptNonce().Match(csp).Groups[1].Value;
        var html = await page.Content.ReadAsStringAsync();
        var importMap = System.Net.WebUtility.HtmlDecode(Regex.Match(html, "<script[^>]*importmap[^>]*>").Value);
        Assert.True(importMap.Contains($"nonce=\"{nonce}\"", StringComparison.Ordinal), $"the import map tag {importMap} carries the nonce {nonce}");
        var again = (await client.GetAsync("/account/login")).Headers.GetValues("Content-Security-Policy").Single();
        Assert.NotEqual(nonce, ScriptNonce().Match(again).Groups[1].Value);

        var api = await client.GetAsync("/api/capture/stats");
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        Assert.Equal("nosniff", api.Headers.GetValues("X-Content-Type-Options").Single());
        // Plain http: no HSTS, and cookies without Secure (a browser would drop them).
        Assert.False(page.Headers.Contains("Strict-Transport-Security"));
        Assert.DoesNotContain(page.Headers.GetValues("Set-Cookie"), c => c.Contains("secure", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Over_https_cookies_are_secure_and_hsts_is_sent()
    {
        using var client = Plain(_host, "https://localhost");
        var page = await client.GetAsync("/account/login");
        Assert.Contains("max-age=", page.Headers.GetValues("Strict-Transport-Security").Single());
        Assert.All(page.Headers.GetValues("Set-Cookie"), c => Assert.Contains("secure", c, StringComparison.OrdinalIgnoreCase));

        var signedIn = await SignInAsync(client, "olivia", Password);
        Assert.Equal("/", signedIn.Headers.Location?.OriginalString);
        var auth = signedIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("grace.auth=", StringComparison.Ordinal));
        Assert.Contains("secure", auth, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", auth, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", auth, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Forwarded_headers_are_believed_only_from_the_configured_proxies()
    {
        async Task<bool> HstsAsync(GraceHost host, string peer)
        {
            using var client = Plain(host);
            using var request = new HttpRequestMessage(HttpMethod.Get, "/account/login");
            request.Headers.Add(PeerFromHeader.Header, peer);
            request.Headers.Add("X-Forwarded-Proto", "https");
            request.Headers.Add("X-Forwarded-For", "203.0.113.9");
            return (await client.SendAsync(request)).Headers.Contains("Strict-Transport-Security");
        }

        // No proxies configured (the default): nobody's forwarded headers count, loopback's neither.
        Assert.False(await HstsAsync(_host, "127.0.0.1"));

        var behindProxy = await RestartAsync("Grace:Http:KnownProxies:0", "10.0.0.5");
        Assert.True(await HstsAsync(behindProxy, "10.0.0.5"));
        Assert.False(await HstsAsync(behindProxy, "10.0.0.9"));
    }

    [Fact]
    public async Task A_forged_host_is_refused_and_no_redirect_names_the_request_host()
    {
        using var client = Plain(_host);
        using var forged = new HttpRequestMessage(HttpMethod.Get, "/incidents");
        forged.Headers.Host = "evil.example";
        Assert.Equal(HttpStatusCode.BadRequest, (await client.SendAsync(forged)).StatusCode);

        // Where any host is allowed (development), redirects still never carry it.
        var anyHost = await RestartAsync("Grace:Http:AllowedHosts:0", "*");
        using var open = Plain(anyHost);
        foreach (var path in new[] { "/incidents", "/api-keys", "/" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = "evil.example";
            var response = await open.SendAsync(request);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            var location = response.Headers.Location!.OriginalString;
            Assert.StartsWith("/account/login", location, StringComparison.Ordinal);
            Assert.DoesNotContain("evil.example", location, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Hub_connections_are_capped_per_person_with_a_message_naming_the_setting()
    {
        var host = await RestartAsync("Grace:Http:MaxHubConnectionsPerUser", "2");
        var cookie = await host.SignInAsync("olivia", Password);

        HubConnection Connect(Microsoft.AspNetCore.Http.Connections.HttpTransportType transport = Microsoft.AspNetCore.Http.Connections.HttpTransportType.ServerSentEvents) =>
            new HubConnectionBuilder().WithUrl(new Uri(host.Server.BaseAddress, "hubs/pipeline"), transport, o =>
            {
                o.HttpMessageHandlerFactory = _ => host.Server.CreateHandler();
                o.Headers["Cookie"] = cookie;
                o.WebSocketFactory = async (context, cancellationToken) =>
                {
                    var client = host.Server.CreateWebSocketClient();
                    client.ConfigureRequest = request => request.Headers["Cookie"] = cookie;
                    return await client.ConnectAsync(context.Uri, cancellationToken);
                };
            }).Build();

        // One over WebSockets (as browsers connect), one over server-sent events: both are counted.
        await using var first = Connect(Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets);
        await using var second = Connect();
        await first.StartAsync();
        await second.StartAsync();
        var limiter = host.Get<Grace.Web.Security.ConnectionLimiter>();
        Assert.Equal(2, limiter.Open(Grace.Web.Security.ConnectionKind.Hub));

        await using var third = Connect();
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => third.StartAsync());
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        using (var client = host.ClientWithCookie(cookie))
        {
            var negotiate = await client.PostAsync("/hubs/pipeline/negotiate?negotiateVersion=1", null);
            Assert.Equal(HttpStatusCode.TooManyRequests, negotiate.StatusCode);
            Assert.Contains("Grace:Http:MaxHubConnectionsPerUser", await negotiate.Content.ReadAsStringAsync());

            // Long polling would be a request per message, which no cap could count: not offered.
            var poll = await client.GetAsync("/hubs/pipeline?id=abc");
            Assert.Equal(HttpStatusCode.BadRequest, poll.StatusCode);
        }

        // Another person is not affected; closing one frees a slot.
        await first.StopAsync();
        await WaitAsync(() => limiter.Open(Grace.Web.Security.ConnectionKind.Hub) == 1);
        await using var fourth = Connect();
        await fourth.StartAsync();
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(10); !condition(); await Task.Delay(50))
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not come true within 10 s");
        }
    }

    /// <summary>Counts password checks per user name (the stand-in's included).</summary>
    private sealed class PasswordChecks
    {
        private readonly ConcurrentDictionary<string, int> _counts = new();

        public void Add(string? userName) => _counts.AddOrUpdate(userName ?? "?", 1, (_, n) => n + 1);

        public int Of(string userName) => _counts.GetValueOrDefault(userName);
    }

    private sealed class CountingHasher(PasswordHasher<GraceUser> inner, PasswordChecks checks) : IPasswordHasher<GraceUser>
    {
        public string HashPassword(GraceUser user, string password) => inner.HashPassword(user, password);

        public PasswordVerificationResult VerifyHashedPassword(GraceUser user, string hashedPassword, string providedPassword)
        {
            checks.Add(user.UserName);
            return inner.VerifyHashedPassword(user, hashedPassword, providedPassword);
        }
    }

    /// <summary>Sets the connection's peer address from a test header, as a real socket would.</summary>
    private sealed class PeerFromHeader : Microsoft.AspNetCore.Hosting.IStartupFilter
    {
        public const string Header = "X-Test-Peer";

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, following) =>
            {
                if (context.Request.Headers.TryGetValue(Header, out var peer) && IPAddress.TryParse(peer, out var address))
                {
                    context.Connection.RemoteIpAddress = address;
                }

                return following(context);
            });
            next(app);
        };
    }
}
