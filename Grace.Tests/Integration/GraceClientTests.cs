using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Grace.Client;
using Grace.Data;
using Grace.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace Grace.Tests.Integration;

/// <summary>
/// Grace.Client in a separate service process (Grace.Client.Sample, configured as the README says)
/// sending to a real Grace process on loopback, which is killed and started again meanwhile.
/// </summary>
public sealed class GraceClientTests : IAsyncLifetime
{
    private const string Template = "Reserving stock for order {OrderId} failed";
    private readonly TempFolder _folder = new();
    private GraceProcess _grace = null!;
    private string _key = null!;
    private string Database => _folder.Combine("grace.db");

    public async Task InitializeAsync()
    {
        var settings = _folder.Combine("grace.json");
        await File.WriteAllTextAsync(settings, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["Serilog"] = new { MinimumLevel = new { Default = "Warning" }, WriteTo = new[] { new { Name = "Console" } } },
            ["Grace"] = new Dictionary<string, object>
            {
                ["Database"] = new { Provider = "Sqlite", ConnectionString = $"Data Source={Database}" },
                ["Identity"] = new { TestCatalog.AdminPassword },
                ["Engine"] = new { QuarantineDirectory = _folder.Combine("quarantine") },
            },
        }));
        _grace = await GraceProcess.StartAsync("grace", settings, new Dictionary<string, string>());
        using var ingest = await _grace.IngestClientAsync(TestCatalog.AdminPassword);
        _key = ingest.DefaultRequestHeaders.Authorization!.Parameter!;
    }

    public async Task DisposeAsync()
    {
        await _grace.DisposeAsync();
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    private SqliteGraceDbContext Db() => new(new DbContextOptionsBuilder<SqliteGraceDbContext>().UseSqlite($"Data Source={Database}").Options);

    private async Task<Data.Entities.Incident> WaitForIncidentAsync(Func<Data.Entities.Incident, bool> predicate, string what, int timeoutSeconds = 60)
    {
        var seen = new List<Data.Entities.Incident>();
        for (var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds); DateTime.UtcNow < deadline; await Task.Delay(200))
        {
            await using var db = Db();
            seen = await db.Incidents.AsNoTracking().ToListAsync();
            if (seen.FirstOrDefault(predicate) is { } found)
            {
                return found;
            }
        }

        throw new TimeoutException($"No incident {what}. Seen: {string.Join("; ", seen.Select(i => $"{i.Source} '{i.Template}' x{i.Count}"))}\n{_grace.Output}");
    }

    [Fact]
    public async Task Grace_going_away_loses_nothing_that_fits_the_buffer_and_the_client_says_what_it_dropped()
    {
        await using var service = await SampleService.StartAsync(_grace.BaseAddress, _key, "orders-svc", serilog: false, bufferCapacity: 100);
        await service.SendAsync("errors 20", "logged 20");
        await WaitForIncidentAsync(i => i.Source == "orders-svc" && i.Template == Template && i.Count == 20, "with the first 20 errors");
        await service.WaitForStatsAsync("sent=20 dropped=0 refused=0 buffered=0");

        _grace.Kill();
        // 150 while Grace is away: 100 fit the buffer, 50 do not. Logging returns at once all the same.
        var logging = Stopwatch.StartNew();
        await service.SendAsync("errors 150", "logged 170");
        Assert.True(logging.Elapsed < TimeSpan.FromSeconds(10), $"logging 150 errors with Grace away took {logging.Elapsed}");
        await service.WaitForStatsAsync("sent=20 dropped=50 refused=0 buffered=100");

        await _grace.StartAgainAsync();
        var incident = await WaitForIncidentAsync(i => i.Source == "orders-svc" && i.Template == Template && i.Count == 120, "with all 120 errors that fit");
        Assert.Equal("System.InvalidOperationException", incident.ExceptionType);
        var report = await WaitForIncidentAsync(i => i.Source == "orders-svc" && i.SampleMessage.Contains("dropped 50 error events", StringComparison.Ordinal), "reporting the 50 dropped");
        Assert.Contains("buffer of 100 was full", report.SampleMessage, StringComparison.Ordinal);

        var final = await service.ExitAsync();
        Assert.Contains("sent=121 dropped=50 refused=0 buffered=0", final, StringComparison.Ordinal);
        Assert.Contains(service.Lines, l => l.Contains("dropped 50 error events", StringComparison.Ordinal));
        await using var db = Db();
        Assert.DoesNotContain(await db.Incidents.AsNoTracking().ToListAsync(), i => i.Template.Contains("only information", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_Serilog_sink_sends_errors_with_their_template_and_flushes_on_exit()
    {
        await using var service = await SampleService.StartAsync(_grace.BaseAddress, _key, "serilog-svc", serilog: true, bufferCapacity: 1000);
        await service.SendAsync("errors 7", "logged 7");
        // Exit at once: whatever is still buffered is sent by the flush on shutdown.
        var final = await service.ExitAsync();
        Assert.Contains("sent=7 dropped=0", final, StringComparison.Ordinal);
        var incident = await WaitForIncidentAsync(i => i.Source == "serilog-svc" && i.Count == 7, "with 7 Serilog errors", timeoutSeconds: 20);
        Assert.Equal(Template, incident.Template);
        Assert.Equal("System.InvalidOperationException", incident.ExceptionType);
        Assert.Contains("Sample.Orders", incident.Labels ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_revoked_or_wrong_key_is_refused_counted_and_never_retried_forever()
    {
        await using var service = await SampleService.StartAsync(_grace.BaseAddress, "grace_deadbeef_notarealsecretatall", "wrong-key-svc", serilog: false, bufferCapacity: 1000);
        await service.SendAsync("errors 3", "logged 3");
        await service.WaitForStatsAsync("sent=0 dropped=0 refused=3 buffered=0");
        Assert.Contains(service.Lines, l => l.Contains("HTTP 401", StringComparison.Ordinal));
    }

    /// <summary>Grace.Client.Sample as a process, driven over stdin.</summary>
    private sealed class SampleService : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _lines = new();

        private SampleService(Process process) => _process = process;

        public IReadOnlyCollection<string> Lines => _lines;

        public static async Task<SampleService> StartAsync(Uri grace, string key, string source, bool serilog, int bufferCapacity)
        {
            var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            info.ArgumentList.Add(SampleAssembly);
            if (serilog)
            {
                info.ArgumentList.Add("serilog");
            }

            info.Environment["DOTNET_ENVIRONMENT"] = "Production";
            info.Environment["GraceClient__Endpoint"] = grace.ToString();
            info.Environment["GraceClient__ApiKey"] = key;
            info.Environment["GraceClient__Source"] = source;
            info.Environment["GraceClient__BufferCapacity"] = bufferCapacity.ToString(System.Globalization.CultureInfo.InvariantCulture);
            info.Environment["GraceClient__BatchSize"] = "50";
            info.Environment["GraceClient__MaxRetryDelaySeconds"] = "0.5";
            info.Environment["GraceClient__RequestTimeoutSeconds"] = "2";
            info.Environment["GraceClient__ShutdownTimeoutSeconds"] = "20";
            info.Environment["GraceClient__Labels__environment"] = "test";
            var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
            var service = new SampleService(process);
            process.OutputDataReceived += (_, e) => service.Keep(e.Data);
            process.ErrorDataReceived += (_, e) => service.Keep(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await service.WaitForLineAsync("ready");
            return service;
        }

        private void Keep(string? line)
        {
            if (line is not null)
            {
                _lines.Enqueue(line);
            }
        }

        public async Task SendAsync(string command, string answer)
        {
            await _process.StandardInput.WriteLineAsync(command);
            await _process.StandardInput.FlushAsync();
            await WaitForLineAsync(answer);
        }

        public async Task WaitForStatsAsync(string expected, int timeoutSeconds = 30)
        {
            for (var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds); DateTime.UtcNow < deadline; await Task.Delay(200))
            {
                await _process.StandardInput.WriteLineAsync("stats");
                await _process.StandardInput.FlushAsync();
                await Task.Delay(100);
                if (_lines.LastOrDefault(l => l.StartsWith("stats ", StringComparison.Ordinal)) is { } last && last.Contains(expected, StringComparison.Ordinal))
                {
                    return;
                }
            }

            throw new TimeoutException($"The service never reported '{expected}':\n{string.Join('\n', _lines.TakeLast(30))}");
        }

        public async Task<string> ExitAsync()
        {
            await _process.StandardInput.WriteLineAsync("exit");
            await _process.StandardInput.FlushAsync();
            return await WaitForLineAsync("final ", timeoutSeconds: 60);
        }

        private async Task<string> WaitForLineAsync(string prefix, int timeoutSeconds = 60)
        {
            for (var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds); DateTime.UtcNow < deadline; await Task.Delay(50))
            {
                if (_lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) is { } line)
                {
                    return line;
                }

                if (_process.HasExited && !_lines.Any(l => l.StartsWith(prefix, StringComparison.Ordinal)))
                {
                    await Task.Delay(200);
                    if (!_lines.Any(l => l.StartsWith(prefix, StringComparison.Ordinal)))
                    {
                        throw new InvalidOperationException($"The service exited ({_process.ExitCode}) before '{prefix}':\n{string.Join('\n', _lines.TakeLast(30))}");
                    }
                }
            }

            throw new TimeoutException($"The service never printed '{prefix}':\n{string.Join('\n', _lines.TakeLast(30))}");
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }

        private static string SampleAssembly
        {
            get
            {
                var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
                var root = testBin.Parent!.Parent!.Parent!.Parent!.FullName;
                var dll = Path.Combine(root, "Grace.Client.Sample", "bin", testBin.Parent.Name, testBin.Name, "Grace.Client.Sample.dll");
                return File.Exists(dll) ? dll : throw new FileNotFoundException($"Grace.Client.Sample is not built at {dll}; build the solution first.");
            }
        }
    }
}

/// <summary>The shipper alone: logging never waits or throws, whatever Grace does.</summary>
public sealed class GraceShipperTests
{
    [Fact]
    public async Task Logging_with_nothing_listening_returns_at_once_and_counts_what_did_not_fit()
    {
        var options = new GraceClientOptions
        {
            Endpoint = new Uri($"http://127.0.0.1:{TestCatalog.FreeLoopbackPort()}/"),
            ApiKey = "grace_x_y",
            Source = "nobody-home",
            BufferCapacity = 10,
            MaxRetryDelaySeconds = 0.05,
            ShutdownTimeoutSeconds = 0.5,
            Diagnostics = _ => { },
        };
        var shipper = new GraceShipper(options);
        var provider = new GraceLoggerProvider(shipper, ownsShipper: true);
        var logger = provider.CreateLogger("Tests");
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 1000; i++)
        {
            logger.LogError(new InvalidOperationException("x"), "failure {N}", i);
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"1000 log calls took {watch.Elapsed}");
        Assert.Equal(990, shipper.Statistics.Dropped);
        Assert.Equal(10, shipper.Statistics.Buffered);
        provider.Dispose();
        // Shutdown gave up after its timeout; the ten it held are counted too, and disposing did not throw.
        Assert.Equal(1000, shipper.Statistics.Dropped);
    }

    [Fact]
    public async Task A_batch_over_Graces_body_limit_is_halved_until_it_fits_and_nothing_is_lost()
    {
        using var folder = new TempFolder();
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, folder);
        await using var host = new GraceHost(TestCatalog.Settings(folder).Concat(database.Settings()).Concat(new Dictionary<string, string?>
        {
            ["Grace:Ingestion:MaxBodyBytes"] = "8192",
        })).Start();
        using var client = host.IngestClient();
        var messages = new List<string>();
        await using (var shipper = new GraceShipper(new GraceClientOptions
        {
            Endpoint = host.Server.BaseAddress,
            ApiKey = client.DefaultRequestHeaders.Authorization!.Parameter,
            Source = "big-stacks",
            BatchSize = 40,
            Diagnostics = messages.Add,
            ShutdownTimeoutSeconds = 30,
        }, host.Server.CreateHandler()))
        {
            var logger = new GraceLoggerProvider(shipper).CreateLogger("Tests");
            for (var i = 0; i < 40; i++)
            {
                logger.LogError("Import {Row} failed: {Detail}", i, new string('x', 1500));
            }
        }

        var incident = await host.WaitForIncidentAsync(i => i.Source == "big-stacks" && i.Count == 40, timeoutSeconds: 30);
        Assert.Equal("Import {Row} failed: {Detail}", incident.Template);
        Assert.Empty(messages);
    }

    [Fact]
    public async Task Dotnet_pack_makes_a_package_with_the_library_and_its_readme()
    {
        using var output = new TempFolder();
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var project = Path.Combine(testBin.Parent!.Parent!.Parent!.Parent!.FullName, "Grace.Client", "Grace.Client.csproj");
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "pack", project, "-c", testBin.Parent.Name, "--no-build", "-o", output.Path, "-nologo" })
        {
            info.ArgumentList.Add(arg);
        }

        using var pack = Process.Start(info)!;
        var log = await pack.StandardOutput.ReadToEndAsync() + await pack.StandardError.ReadToEndAsync();
        await pack.WaitForExitAsync();
        Assert.True(pack.ExitCode == 0, log);
        var package = Assert.Single(Directory.GetFiles(output.Path, "Grace.Client.*.nupkg"));
        using var zip = System.IO.Compression.ZipFile.OpenRead(package);
        var entries = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Contains("lib/net10.0/Grace.Client.dll", entries);
        Assert.Contains("README.md", entries);
        using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        var manifest = await nuspec.ReadToEndAsync();
        Assert.Contains("Polly.Core", manifest, StringComparison.Ordinal);
        Assert.DoesNotContain("Grace.Web", manifest, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_settings_name_the_configuration_key()
    {
        var missing = Assert.Throws<InvalidOperationException>(() => new GraceShipper(new GraceClientOptions { ApiKey = "k" }));
        Assert.Contains("GraceClient:Endpoint", missing.Message, StringComparison.Ordinal);
        var noKey = Assert.Throws<InvalidOperationException>(() => new GraceShipper(new GraceClientOptions { Endpoint = new Uri("http://127.0.0.1:1/") }));
        Assert.Contains("GraceClient:ApiKey", noKey.Message, StringComparison.Ordinal);
        var batch = Assert.Throws<InvalidOperationException>(() => new GraceShipper(new GraceClientOptions { Endpoint = new Uri("http://127.0.0.1:1/"), ApiKey = "k", BatchSize = 20_000 }));
        Assert.Contains("GraceClient:BatchSize", batch.Message, StringComparison.Ordinal);
    }
}
