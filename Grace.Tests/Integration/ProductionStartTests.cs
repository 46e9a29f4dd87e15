using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Grace.Tests.Infrastructure;

namespace Grace.Tests.Integration;

/// <summary>
/// Grace as the README tells an operator to deploy it: <c>dotnet publish</c>, then the published
/// Grace.Web.dll in Production. It starts with the required settings and serves its pages with their
/// assets; without them it refuses to start and names the missing key.
/// </summary>
public sealed partial class ProductionStartTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [GeneratedRegex("(?:href|src)=\"(_(?:content|framework)/[^\"]+)\"")]
    private static partial Regex AssetLink();

    [GeneratedRegex(@"Now listening on: http://127\.0\.0\.1:(\d+)")]
    private static partial Regex Listening();

    private int _starts;

    [Fact]
    public async Task The_published_app_starts_in_production_serves_its_assets_and_refuses_to_start_without_its_hosts()
    {
        var published = await PublishAsync();

        // Without Grace:Http:AllowedHosts: a clear refusal naming the key, and a failing exit code.
        var (exit, output) = await RunUntilExitAsync(published, [new("Grace:Http:AllowedHosts:0", ""), new("Grace:Http:AllowedHosts:1", "")]);
        Assert.NotEqual(0, exit);
        Assert.Contains("Grace:Http:AllowedHosts is required in Production", output);

        // With it: the sign-in page and every framework and MudBlazor file it links load.
        // Port 0: Kestrel binds a free port itself and says which, so no other test can take it in between.
        Output.Clear();
        using var process = Start(published, 0, []);
        try
        {
            var port = await WaitForPortAsync(process);
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(10) };
            var page = await WaitForPageAsync(client, process, "account/login");
            var links = AssetLink().Matches(page).Select(m => m.Groups[1].Value).Distinct().ToList();
            Assert.Contains(links, l => l.Contains("MudBlazor", StringComparison.Ordinal) && l.EndsWith(".css", StringComparison.Ordinal));
            Assert.Contains(links, l => l.StartsWith("_framework/blazor.web", StringComparison.Ordinal));
            foreach (var link in links)
            {
                var asset = await client.GetAsync(link);
                Assert.True(asset.StatusCode == HttpStatusCode.OK, $"{link} answered {(int)asset.StatusCode}");
                Assert.True((await asset.Content.ReadAsByteArrayAsync()).Length > 0, $"{link} is empty");
            }

            // A forged Host is refused in Production (Grace:Http:AllowedHosts), not reflected.
            using var forged = new HttpRequestMessage(HttpMethod.Get, "/");
            forged.Headers.Host = "evil.example";
            Assert.Equal(HttpStatusCode.BadRequest, (await client.SendAsync(forged)).StatusCode);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static string RepositoryRoot => new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Parent!.Parent!.Parent!.FullName;

    /// <summary>Publishes the already built Grace.Web (the configuration the tests were built in) to a temporary folder.</summary>
    private async Task<string> PublishAsync()
    {
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = testBin.Parent!.Name;
        var root = testBin.Parent.Parent!.Parent!.Parent!.FullName;
        var output = _folder.Combine("publish");
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root,
        };
        foreach (var arg in new[] { "publish", Path.Combine(root, "Grace.Web", "Grace.Web.csproj"), "-c", configuration, "--no-build", "-o", output, "-nologo" })
        {
            info.ArgumentList.Add(arg);
        }

        using var publish = Process.Start(info)!;
        var stdout = publish.StandardOutput.ReadToEndAsync();
        var stderr = publish.StandardError.ReadToEndAsync();
        await publish.WaitForExitAsync();
        Assert.True(publish.ExitCode == 0, $"dotnet publish failed:\n{await stdout}\n{await stderr}");
        Assert.True(File.Exists(Path.Combine(output, "Grace.Web.dll")));
        return output;
    }

    private Process Start(string published, int port, IEnumerable<KeyValuePair<string, string?>> overrides)
    {
        // The shipped configuration file, as an operator starts from; only what must differ here is overridden.
        var start = Interlocked.Increment(ref _starts);
        var settingsFile = _folder.Combine($"settings-{start}.json");
        File.Copy(Path.Combine(RepositoryRoot, "appsettings.json"), settingsFile);
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
            // The published layout: content root and wwwroot beside the binaries.
            WorkingDirectory = published,
        };
        info.ArgumentList.Add(Path.Combine(published, "Grace.Web.dll"));
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        info.Environment["GRACE_SETTINGS"] = settingsFile;
        var settings = new Dictionary<string, string?>();
        settings["Grace:Database:DataDirectory"] = _folder.Combine($"data-{start}");
        settings["Grace:Identity:AdminPassword"] = TestCatalog.AdminPassword;
        settings["Grace:Targets:demo-orders-api:Url"] = $"http://127.0.0.1:{TestCatalog.FreeLoopbackPort()}/";
        settings["Grace:Http:AllowedHosts:0"] = "127.0.0.1";
        settings["Grace:Http:AllowedHosts:1"] = "localhost";
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        foreach (var (key, value) in settings)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value ?? "";
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => Output.Enqueue(e.Data ?? "");
        process.ErrorDataReceived += (_, e) => Output.Enqueue(e.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private ConcurrentQueue<string> Output { get; } = new();

    private async Task<(int Exit, string Output)> RunUntilExitAsync(string published, IEnumerable<KeyValuePair<string, string?>> overrides)
    {
        using var process = Start(published, 0, overrides);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("Grace started although a required setting was missing:\n" + string.Join('\n', Output));
        }

        await Task.Delay(200);
        return (process.ExitCode, string.Join('\n', Output));
    }

    /// <summary>The port Kestrel bound, from its "Now listening on" line.</summary>
    private async Task<int> WaitForPortAsync(Process process)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(90); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            if (Output.Select(line => Listening().Match(line)).FirstOrDefault(m => m.Success) is { } listening)
            {
                return int.Parse(listening.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }

            Assert.False(process.HasExited, "Grace exited while starting:\n" + string.Join('\n', Output.TakeLast(60)));
        }

        throw new TimeoutException("Grace did not say where it listens within 90 s:\n" + string.Join('\n', Output.TakeLast(60)));
    }

    private async Task<string> WaitForPageAsync(HttpClient client, Process process, string path)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(90); DateTime.UtcNow < deadline; await Task.Delay(250))
        {
            Assert.False(process.HasExited, "Grace exited while starting:\n" + string.Join('\n', Output.TakeLast(60)));
            try
            {
                var response = await client.GetAsync(path);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return await response.Content.ReadAsStringAsync();
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
        }

        throw new TimeoutException("Grace did not answer within 90 s:\n" + string.Join('\n', Output.TakeLast(60)));
    }
}
