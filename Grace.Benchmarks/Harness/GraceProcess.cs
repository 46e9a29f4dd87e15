using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Grace.Benchmarks.Harness;

/// <summary>
/// A real Grace process (<c>dotnet Grace.Web.dll</c>), as an operator runs it: its own loopback
/// port, its own configuration file (<c>GRACE_SETTINGS</c>), and a kill -9 that nothing inside it
/// can soften. Its whole output goes to a log file, kept after the run as evidence.
/// </summary>
internal sealed partial class GraceProcess : IAsyncDisposable
{
    // Every Grace the harness started, so an interrupted run (Ctrl+C, an unhandled exception) still stops them all.
    private static readonly ConcurrentDictionary<GraceProcess, byte> Live = new();
    // Once the run is being torn down no Grace may start: a restart racing the teardown would outlive the harness.
    private static readonly object StartLock = new();
    private static bool _stopping;
    private readonly ConcurrentQueue<string> _tail = new();
    private readonly object _logLock = new();
    private readonly StreamWriter _log;
    private Process? _process;

    static GraceProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        Console.CancelKeyPress += (_, _) => KillAll();
    }

    private GraceProcess(string name, string settingsFile, IReadOnlyDictionary<string, string> environment, string logFile)
    {
        Name = name;
        SettingsFile = settingsFile;
        Environment = environment;
        Port = Loopback.FreePort();
        LogFile = logFile;
        _log = new StreamWriter(logFile, append: true) { AutoFlush = true };
    }

    public string Name { get; }
    public string SettingsFile { get; }
    public IReadOnlyDictionary<string, string> Environment { get; }
    public int Port { get; }
    public string LogFile { get; }
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");
    public bool Running => _process is { HasExited: false };

    /// <summary>The running process's id (to read its memory), or null.</summary>
    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>How many times this instance was killed with SIGKILL.</summary>
    public int Kills { get; private set; }

    /// <summary>The last lines Grace printed, for an error message.</summary>
    public string Tail => string.Join('\n', _tail.TakeLast(60));

    /// <summary>Starts Grace with a settings file and environment overrides, and waits until it answers.</summary>
    public static async Task<GraceProcess> StartAsync(string name, string settingsFile, IReadOnlyDictionary<string, string> environment, string logFolder)
    {
        var grace = new GraceProcess(name, settingsFile, environment, Path.Combine(logFolder, $"{name}.log"));
        Live[grace] = 0;
        await grace.StartAgainAsync();
        return grace;
    }

    /// <summary>Starts (again, after a kill) on the same settings, data and port. Returns how long it took to answer.</summary>
    public async Task<TimeSpan> StartAgainAsync(int timeoutSeconds = 120)
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
        // Loopback only: the console and API on 127.0.0.1, the silo advertised (and so bound) on 127.0.0.1.
        info.Environment["ASPNETCORE_URLS"] = BaseAddress.ToString().TrimEnd('/');
        info.Environment["GRACE_SETTINGS"] = SettingsFile;
        // Production requires the host names Grace answers to; here, loopback (a test may name others).
        info.Environment["Grace__Http__AllowedHosts__0"] = "127.0.0.1";
        info.Environment["Grace__Http__AllowedHosts__1"] = "localhost";
        foreach (var (key, value) in Environment)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var clock = Stopwatch.StartNew();
        Write($"=== harness: starting {Name} at {DateTimeOffset.UtcNow:O} ===");
        lock (StartLock)
        {
            if (_stopping)
            {
                throw new OperationCanceledException("The run is stopping; Grace is not started again.");
            }

            _process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
        }

        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        for (var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Grace {Name} exited with code {_process.ExitCode} while starting:\n{Tail}");
            }

            try
            {
                using var response = await client.GetAsync("healthz");
                if (response.IsSuccessStatusCode)
                {
                    return clock.Elapsed;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }
        }

        throw new TimeoutException($"Grace {Name} did not answer within {timeoutSeconds} s:\n{Tail}");
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        Write(line);
        _tail.Enqueue(line);
        while (_tail.Count > 200 && _tail.TryDequeue(out _))
        {
        }
    }

    private void Write(string line)
    {
        lock (_logLock)
        {
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // A line printed after the harness closed the log: nothing to keep it in.
            }
        }
    }

    /// <summary>Whether this instance's log (every start of it) has a line containing <paramref name="text"/>.</summary>
    public bool Logged(string text)
    {
        lock (_logLock)
        {
            using var reader = new StreamReader(new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            return reader.ReadToEnd().Contains(text, StringComparison.Ordinal);
        }
    }

    /// <summary>SIGKILL: no shutdown hook runs, nothing is flushed. Returns the moment of the kill.</summary>
    public DateTimeOffset Kill()
    {
        var at = DateTimeOffset.UtcNow;
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(10_000);
            Kills++;
            Write($"=== harness: SIGKILL {Name} at {at:O} ===");
        }

        return at;
    }

    /// <summary>The Cookie header of a person signed in through the real sign-in form (for a SignalR client).</summary>
    public async Task<string> SignInCookieAsync(string userName, string password)
    {
        var cookies = new CookieContainer();
        using var client = await SignInAsync(cookies, userName, password);
        return string.Join("; ", cookies.GetCookies(BaseAddress).Select(c => $"{c.Name}={c.Value}"));
    }

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
            client.Dispose();
            throw new InvalidOperationException($"Signing in to {Name} as {userName} failed: {(int)response.StatusCode} {response.Headers.Location}");
        }

        return client;
    }

    /// <summary>Creates an API key as the admin (through the console's API) and returns it.</summary>
    public async Task<string> CreateApiKeyAsync(string adminPassword)
    {
        using var admin = await SignInAsync(new CookieContainer(), "admin", adminPassword);
        using var created = await admin.PostAsJsonAsync("api/keys", new { name = $"bench-{Guid.NewGuid():N}" });
        created.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("key").GetString()!;
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
        Live.TryRemove(this, out _);
        lock (_logLock)
        {
            _log.Dispose();
        }
    }

    /// <summary>SIGKILL to every Grace still running (an interrupted or failed run).</summary>
    public static void KillAll()
    {
        lock (StartLock)
        {
            _stopping = true;
        }

        foreach (var grace in Live.Keys)
        {
            try
            {
                if (grace._process is { HasExited: false } p)
                {
                    p.Kill(entireProcessTree: true);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }
    }

    /// <summary>Grace.Web.dll of the configuration the harness was built in, from Grace.Web's own output (its deps and runtime config sit beside it).</summary>
    private static string WebAssembly
    {
        get
        {
            var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var framework = bin.Name;
            var configuration = bin.Parent!.Name;
            var root = bin.Parent.Parent!.Parent!.Parent!.FullName;
            var dll = Path.Combine(root, "Grace.Web", "bin", configuration, framework, "Grace.Web.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"Grace.Web is not built at {dll}; `dotnet build Grace.Console.sln -c {configuration}` builds it.");
        }
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}

/// <summary>Loopback ports.</summary>
internal static class Loopback
{
    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
