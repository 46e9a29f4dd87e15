using Grace.Data;
using Grace.Data.Entities;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Tests.Infrastructure;

/// <summary>The real Grace application (Program.cs), on the settings a test gives it.</summary>
public sealed class GraceHost(IEnumerable<KeyValuePair<string, string?>> settings, Action<IServiceCollection>? services = null, string environment = "Testing")
    : WebApplicationFactory<Program>
{
    private readonly List<KeyValuePair<string, string?>> _settings = settings.ToList();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(environment);
        // Outside Development the framework and MudBlazor scripts are only served from the build's static web assets manifest.
        builder.UseStaticWebAssets();
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(_settings));
        // Hundreds of hosts each seed an admin and sign people in: the same hashing code with fewer rounds
        // keeps the suite within its time budget (a stored hash carries its own round count either way).
        builder.ConfigureServices(s => s.Configure<Microsoft.AspNetCore.Identity.PasswordHasherOptions>(o => o.IterationCount = 10_000));
        if (services is not null)
        {
            builder.ConfigureTestServices(services);
        }
    }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public GraceDbContext CreateDb() => Get<IDbContextFactory<GraceDbContext>>().CreateDbContext();

    /// <summary>A context on the test's database without starting Grace (to arrange what a crash would leave).</summary>
    public GraceDbContext CreateDbWithoutStarting()
    {
        var provider = _settings.LastOrDefault(kv => kv.Key == "Grace:Database:Provider").Value;
        var connection = _settings.LastOrDefault(kv => kv.Key == "Grace:Database:ConnectionString").Value;
        return provider == nameof(DatabaseProvider.Postgres)
            ? new PostgresGraceDbContext(new DbContextOptionsBuilder<PostgresGraceDbContext>().UseNpgsql(connection).Options)
            : new SqliteGraceDbContext(new DbContextOptionsBuilder<SqliteGraceDbContext>().UseSqlite(connection).Options);
    }

    /// <summary>Starts the host (migrations, engine) without sending a request.</summary>
    public GraceHost Start()
    {
        _ = Services;
        return this;
    }

    /// <summary>Runs one sweep of the cluster's sweeper now (what its timer does every few seconds).</summary>
    public Task SweepAsync() => Get<Orleans.IGrainFactory>().GetGrain<Grace.Engine.Cluster.ISweeperGrain>(Grace.Engine.Cluster.SweeperGrain.Key).SweepAsync();

    /// <summary>Creates a person with one role (through Identity, as the Users page does).</summary>
    public async Task CreateUserAsync(string userName, string password, string role)
    {
        await using var scope = Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<GraceUser>>();
        var user = new GraceUser { UserName = userName };
        var result = await users.CreateAsync(user, password);
        Assert.True(result.Succeeded, string.Join(" ", result.Errors.Select(e => e.Description)));
        await users.AddToRoleAsync(user, role);
    }

    /// <summary>Signs in through the real sign-in form (antiforgery token and all); returns the Cookie header to send.</summary>
    public async Task<string> SignInAsync(string userName, string password)
    {
        using var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        var page = await client.GetAsync("/account/login");
        var form = await page.Content.ReadAsStringAsync();
        var token = System.Text.RegularExpressions.Regex.Match(form, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(token), "the sign-in form carries an antiforgery token");
        var cookies = CookiesFrom(page);
        using var post = new HttpRequestMessage(HttpMethod.Post, "/account/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["userName"] = userName, ["password"] = password, ["returnUrl"] = "/", ["__RequestVerificationToken"] = token,
            }),
        };
        post.Headers.Add("Cookie", string.Join("; ", cookies));
        var response = await client.SendAsync(post);
        Assert.Equal(System.Net.HttpStatusCode.Redirect, response.StatusCode);
        if (response.Headers.Location?.OriginalString != "/")
        {
            throw new InvalidOperationException($"Sign-in as {userName} was refused: redirected to {response.Headers.Location}.");
        }

        return string.Join("; ", cookies.Concat(CookiesFrom(response)));
    }

    /// <summary>The name signals sent by <see cref="IngestClient"/> are reported by.</summary>
    public const string IngestReporter = "key:tests";

    private string? _ingestKey;

    /// <summary>A client that sends signals with an API key an Admin created for the tests.</summary>
    public HttpClient IngestClient()
    {
        _ingestKey ??= Get<Grace.Engine.Capture.ApiKeyService>()
            .CreateAsync("tests", new Grace.Engine.Missions.Actor("admin", [Grace.Engine.Missions.GraceRoles.Admin]), default).GetAwaiter().GetResult().Key;
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _ingestKey);
        return client;
    }

    /// <summary>A client that sends the given cookies and does not follow redirects.</summary>
    public HttpClient ClientWithCookie(string cookie)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        client.DefaultRequestHeaders.Add("Cookie", cookie);
        return client;
    }

    private static List<string> CookiesFrom(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values) ? values.Select(v => v.Split(';')[0]).ToList() : [];

    /// <summary>Polls the database until an incident matches.</summary>
    public Task<Incident> WaitForIncidentAsync(Func<Incident, bool> predicate, int timeoutSeconds = 15) =>
        PollAsync(async db => (await db.Incidents.AsNoTracking().ToListAsync()).FirstOrDefault(predicate), timeoutSeconds, () => "No such incident");

    /// <summary>Polls the database until a condition holds.</summary>
    public Task WaitUntilAsync(Func<GraceDbContext, Task<bool>> condition, int timeoutSeconds = 10) =>
        PollAsync(async db => await condition(db) ? (object)true : null, timeoutSeconds, () => "The condition did not hold");

    /// <summary>Polls the database until a mission matches, or fails with what was seen.</summary>
    public Task<Mission> WaitForMissionAsync(Func<Mission, bool> predicate, string what, int timeoutSeconds = 45)
    {
        List<Mission> seen = [];
        return PollAsync(
            async db =>
            {
                seen = await db.Missions.AsNoTracking().Include(m => m.Contract).Include(m => m.Approval).Include(m => m.Events).ToListAsync();
                return seen.FirstOrDefault(predicate);
            },
            timeoutSeconds,
            () => $"No mission became {what}. Missions: {string.Join(", ", seen.Select(m => $"{m.PlaybookKey}={m.State}"))}\n"
                + string.Join("\n", seen.SelectMany(m => m.Events.OrderBy(e => e.Id).Select(e => $"  {m.PlaybookKey} {e.Stage} {e.Kind}: {e.Message}"))));
    }

    /// <summary>Reads from a fresh context every 100 ms until the read finds something, or times out saying what was missing.</summary>
    private async Task<T> PollAsync<T>(Func<GraceDbContext, Task<T?>> read, int timeoutSeconds, Func<string> missing)
        where T : class
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds); ; await Task.Delay(100))
        {
            await using (var db = CreateDb())
            {
                if (await read(db) is { } found)
                {
                    return found;
                }
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"{missing()} within {timeoutSeconds} s.");
            }
        }
    }
}
