using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Grace.Tests.Infrastructure;

/// <summary>
/// A real Grace process (<c>dotnet Grace.Web.dll</c>), as an operator runs it: its own port, its
/// own configuration file, and a kill -9 that nothing inside it can soften.
/// </summary>
public sealed partial class GraceProcess : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;

    private GraceProcess(string name, string settingsFile, IReadOnlyDictionary<string, string> environment)
    {
        Name = name;
        SettingsFile = settingsFile;
        Environment = environment;
        Port = TestCatalog.FreeLoopbackPort();
    }

    public string Name { get; }
    public string SettingsFile { get; }
    public IReadOnlyDictionary<string, string> Environment { get; }
    public int Port { get; private set; }
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");
    public int? Pid => _process is { HasExited: false } p ? p.Id : null;
    public bool Running => _process is { HasExited: false };

    /// <summary>The last lines Grace printed, for a failing test's message.</summary>
    public string Output => string.Join('\n', _output.TakeLast(80));

    /// <summary>Starts Grace with a settings file (<c>GRACE_SETTINGS</c>) and environment overrides, and waits until it answers.</summary>
    public static async Task<GraceProcess> StartAsync(string name, string settingsFile, IReadOnlyDictionary<string, string> environment, int timeoutSeconds = 90)
    {
        var grace = new GraceProcess(name, settingsFile, environment);
        await grace.StartAgainAsync(timeoutSeconds);
        return grace;
    }

    /// <summary>Starts (again, after a kill) on the same settings and port.</summary>
    public async Task StartAgainAsync(int timeoutSeconds = 90)
    {
        var info = new ProcessStartInfo(System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(WebAssembly)!,
        };
        info.ArgumentList.Add(WebAssembly);
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["ASPNETCORE_URLS"] = BaseAddress.ToString().TrimEnd('/');
        info.Environment["GRACE_SETTINGS"] = SettingsFile;
        // Production requires the host names Grace answers to; here, loopback (a test may name others).
        info.Environment["Grace__Http__AllowedHosts__0"] = "127.0.0.1";
        info.Environment["Grace__Http__AllowedHosts__1"] = "localhost";
        foreach (var (key, value) in Environment)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        for (var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds); DateTime.UtcNow < deadline; await Task.Delay(200))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Grace {Name} exited with code {_process.ExitCode} while starting:\n{Output}");
            }

            try
            {
                if ((await client.GetAsync("healthz")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }
        }

        throw new TimeoutException($"Grace {Name} did not answer within {timeoutSeconds} s:\n{Output}");
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue($"[{Name}] {line}");
        while (_output.Count > 400 && _output.TryDequeue(out _))
        {
        }
    }

    /// <summary>SIGKILL: no shutdown hook runs, nothing is flushed.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(10_000);
        }
    }

    /// <summary>The Cookie header of a person signed in through the real sign-in form (for a SignalR client).</summary>
    public async Task<string> SignInCookieAsync(string userName, string password)
    {
        var cookies = new CookieContainer();
        using var client = await SignInAsync(cookies, userName, password);
        return string.Join("; ", cookies.GetCookies(BaseAddress).Select(c => $"{c.Name}={c.Value}"));
    }

    /// <summary>A client signed in as a person (through the real sign-in form).</summary>
    public Task<HttpClient> SignedInClientAsync(string userName, string password) => SignInAsync(new CookieContainer(), userName, password);

    private async Task<HttpClient> SignInAsync(CookieContainer cookies, string userName, string password)
    {
        var client = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var form = await client.GetStringAsync("account/login");
        var token = AntiforgeryToken().Match(form).Groups[1].Value;
        using var response = await client.PostAsync("account/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["userName"] = userName, ["password"] = password, ["returnUrl"] = "/", ["__RequestVerificationToken"] = token,
        }));
        if (response.StatusCode != HttpStatusCode.Redirect || response.Headers.Location?.OriginalString != "/")
        {
            throw new InvalidOperationException($"Signing in to {Name} as {userName} failed: {(int)response.StatusCode} {response.Headers.Location}");
        }

        return client;
    }

    /// <summary>Creates an API key as the admin and returns a client that sends it.</summary>
    public async Task<HttpClient> IngestClientAsync(string adminPassword)
    {
        using var admin = await SignedInClientAsync("admin", adminPassword);
        using var created = await admin.PostAsJsonAsync("api/keys", new { name = $"tests-{Guid.NewGuid():N}" });
        created.EnsureSuccessStatusCode();
        var key = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("key").GetString();
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } p)
        {
            // A graceful stop first (SIGTERM), as a service manager would; a kill if it hangs.
            _ = Grace.Engine.Adapters.Processes.NativeMethods.Kill(p.Id, Grace.Engine.Adapters.Processes.NativeMethods.SigTerm);
            if (!p.WaitForExit(20_000))
            {
                p.Kill(entireProcessTree: true);
            }

            await p.WaitForExitAsync();
        }

        _process?.Dispose();
    }

    /// <summary>Grace.Web.dll of the configuration the tests were built in (scripts/test.sh builds Release).</summary>
    private static string WebAssembly
    {
        get
        {
            var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var framework = testBin.Name;
            var configuration = testBin.Parent!.Name;
            var root = testBin.Parent.Parent!.Parent!.Parent!.FullName;
            var dll = Path.Combine(root, "Grace.Web", "bin", configuration, framework, "Grace.Web.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"Grace.Web is not built at {dll}; build the solution first (scripts/test.sh does).");
        }
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
