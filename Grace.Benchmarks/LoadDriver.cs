using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Grace.Benchmarks.Harness;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;
using Grace.Engine.Missions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Grace.Benchmarks;

/// <summary>
/// Throughput, latency and memory with a fixed amount of work, each figure next to a baseline
/// measured in the same run on the same machine. Load stays on loopback.
/// </summary>
internal sealed class LoadDriver(TextWriter output, double scale, TimeSpan soak, bool latencyOnly = false, string? captureFlush = null, bool httpOnly = false, int inFlight = 64, int noiseRate = 100_000, int warmUpProbes = 100, bool sampleAllocations = false)
{
    private readonly List<(string Figure, string Grace, string Baseline, string Goal)> _rows = [];

    public async Task RunAsync()
    {
        if (!latencyOnly && !httpOnly)
        {
            InProcess();
        }

        await using var host = new BenchmarkHost(captureFlush is null ? null : new() { ["Grace:Engine:CaptureFlush"] = captureFlush });
        output.WriteLine($"Grace:Engine:CaptureFlush = {captureFlush ?? "(default)"}");
        if (!latencyOnly && !httpOnly)
        {
            await StorageAsync(host);
        }

        if (!latencyOnly)
        {
            await HttpAsync(host);
        }

        if (!httpOnly)
        {
            await LatencyAndMemoryAsync(host);
        }

        output.WriteLine();
        output.WriteLine("| Figure | Grace | Baseline | Goal |");
        output.WriteLine("|---|---|---|---|");
        foreach (var row in _rows)
        {
            output.WriteLine($"| {row.Figure} | {row.Grace} | {row.Baseline} | {row.Goal} |");
        }
    }

    private int Scaled(int n) => Math.Max(1000, (int)(n * scale));

    private static Signal Structured(int i, int fingerprints) => new("orders-api", $"Order {i} failed on shard {i % fingerprints}", Severity.Error, DateTimeOffset.UtcNow,
        MessageTemplate: $"Order {{OrderId}} failed on shard {i % fingerprints}", ExceptionType: "System.InvalidOperationException");

    private static Signal Plain(int i, int fingerprints) => new("orders-api", $"Shard {i % fingerprints} timeout after {i} ms calling 10.0.{i % 250}.7:5432", Severity.Error,
        DateTimeOffset.UtcNow, ExceptionType: "Npgsql.NpgsqlException");

    /// <summary>One producer thread, one consumer thread: the bare channel against Grace's capture path (fingerprint + dedup).</summary>
    private void InProcess()
    {
        var n = Scaled(5_000_000);
        var signals = Enumerable.Range(0, 1000).Select(i => Structured(i, 1000)).ToArray();
        var plain = Enumerable.Range(0, 1000).Select(i => Plain(i, 1000)).ToArray();

        var bare = Channel.CreateBounded<Signal>(new BoundedChannelOptions(100_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        var baseline = Measure(n, s => { while (!bare.Writer.TryWrite(s)) { Thread.SpinWait(20); } }, () =>
        {
            var read = 0;
            while (read < n)
            {
                while (bare.Reader.TryRead(out _)) { read++; }
                Thread.SpinWait(20);
            }
        }, signals);

        double Grace(Signal[] source)
        {
            var intake = new SignalIntake(Options.Create(new EngineOptions { CaptureBufferCapacity = 100_000 }));
            return Measure(n, s => { while (!intake.TryWrite(s)) { Thread.SpinWait(20); } }, () =>
            {
                // The CPU half of the capture stage: fingerprint every signal and fold repeats.
                var counts = new Dictionary<string, long>(StringComparer.Ordinal);
                var read = 0;
                while (read < n)
                {
                    while (intake.TryTake(out var signal))
                    {
                        var fp = Fingerprinter.Compute(signal);
                        counts[fp] = counts.GetValueOrDefault(fp) + 1;
                        read++;
                    }

                    Thread.SpinWait(20);
                }
            }, source);
        }

        var structured = Grace(signals);
        var normalised = Grace(plain);
        _rows.Add(("In-process capture, structured (fingerprint + dedup), signals/s", $"{structured:N0}", $"{baseline:N0} (bare Channel<T> write+read)", "≥ 1,000,000 and ≥ ½ baseline"));
        _rows.Add(("In-process capture, plain messages (normalise + fingerprint + dedup), signals/s", $"{normalised:N0}", $"{baseline:N0}", "≥ 1,000,000 and ≥ ½ baseline"));
        output.WriteLine($"in-process: baseline {baseline:N0}/s, structured {structured:N0}/s, plain {normalised:N0}/s");
    }

    private static double Measure(int n, Action<Signal> write, Action drain, Signal[] source)
    {
        var stopwatch = Stopwatch.StartNew();
        var consumer = new Thread(() => drain()) { IsBackground = true };
        consumer.Start();
        for (var i = 0; i < n; i++)
        {
            write(source[i % source.Length]);
        }

        consumer.Join();
        return n / stopwatch.Elapsed.TotalSeconds;
    }

    /// <summary>The whole capture stage into the database: incidents counted in SQLite.</summary>
    private async Task StorageAsync(BenchmarkHost host)
    {
        var capture = host.Services.GetRequiredService<CaptureService>();
        var n = Scaled(1_000_000);
        var batch = Enumerable.Range(0, 20_000).Select(i => Plain(i, 1000)).ToList();
        var stopwatch = Stopwatch.StartNew();
        for (var done = 0; done < n; done += batch.Count)
        {
            await capture.ProcessBatchAsync(batch, default);
        }

        var rate = n / stopwatch.Elapsed.TotalSeconds;
        _rows.Add(("Capture into SQLite incidents (batches of 20,000; 1,000 fingerprints), signals/s", $"{rate:N0}", "n/a", "(no goal; the storage bound)"));
        output.WriteLine($"storage: {rate:N0}/s");
    }

    private async Task HttpAsync(BenchmarkHost host)
    {
        using var client = host.Client(inFlight);
        var requests = Scaled(40_000);
        var single = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { source = "orders-api", message = "Timeout after 30 ms", severity = "Error" }));
        var hundred = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(Enumerable.Range(0, 100).Select(i => new { source = "orders-api", message = $"Timeout after {i} ms", severity = "Error" })));

        // CPU time and bytes allocated per request (server and load generator together, one process),
        // so a request's own cost can be told from the time it waits for its group commit.
        var cpu0 = Cpu();
        var bytes0 = GC.GetTotalAllocatedBytes(false);
        var (empty, emptyMs) = await LoadAsync(client, requests, () => new HttpRequestMessage(HttpMethod.Get, "/healthz"), inFlight);
        var cpu1 = Cpu();
        var bytes1 = GC.GetTotalAllocatedBytes(false);
        using var sampler = sampleAllocations ? new AllocationSampler() : null;
        sampler?.Start();
        var (one, oneMs) = await LoadAsync(client, requests, () => Post(single), inFlight);
        sampler?.Stop();
        var cpu2 = Cpu();
        var bytes2 = GC.GetTotalAllocatedBytes(false);
        var (batches, _) = await LoadAsync(client, requests / 10, () => Post(hundred), inFlight);
        output.WriteLine($"http cost per request (server and client, one process): GET /healthz {(cpu1 - cpu0).TotalMicroseconds / requests:0} µs CPU, {(bytes1 - bytes0) / requests / 1024.0:0.0} KB allocated; "
            + $"single POST {(cpu2 - cpu1).TotalMicroseconds / requests:0} µs CPU, {(bytes2 - bytes1) / requests / 1024.0:0.0} KB allocated");
        PrintAllocations(sampler);
        // 202 now means stored: each answer waits for the group commit its signal went into.
        _rows.Add(($"HTTP single-signal POST (202 = stored), requests/s; latency with {inFlight} in flight", $"{one:N0}; p50 {Stats.Percentile(oneMs, 0.5):0.0} ms, p99 {Stats.Percentile(oneMs, 0.99):0.0} ms",
            $"{empty:N0} (GET /healthz, same server); p50 {Stats.Percentile(emptyMs, 0.5):0.0} ms, p99 {Stats.Percentile(emptyMs, 0.99):0.0} ms", "≥ 15,000 and ≥ ½ baseline"));
        _rows.Add(("HTTP batches of 100, signals/s", $"{batches * 100:N0}", "n/a", "≥ 200,000"));
        output.WriteLine($"http ({inFlight} in flight): empty {empty:N0} req/s ({Stats.Summary(emptyMs)}), single {one:N0} req/s ({Stats.Summary(oneMs)}), batch {batches * 100:N0} signals/s; load average {Machine.Load()}");
    }

    /// <summary>The types that took the most of a phase's allocations, when <c>--allocations</c> asked for them.</summary>
    private void PrintAllocations(AllocationSampler? sampler)
    {
        if (sampler is null)
        {
            return;
        }

        output.WriteLine("allocations by type (the runtime's samples, about one per 100 KB):");
        foreach (var (type, bytes, share) in sampler.Top(25))
        {
            output.WriteLine($"  {share,6:P1} {bytes / 1048576.0,9:N1} MiB  {type}");
        }
    }

    private static TimeSpan Cpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    private static HttpRequestMessage Post(byte[] body) => new(HttpMethod.Post, "/api/signals")
    {
        Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
    };

    internal static async Task<(double PerSecond, List<double> Milliseconds)> LoadAsync(HttpClient client, int requests, Func<HttpRequestMessage> make, int inFlight = 64)
    {
        var next = -1;
        var failures = 0;
        var latencies = new double[requests];
        var stopwatch = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, inFlight).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests)
            {
                using var request = make();
                var started = Stopwatch.GetTimestamp();
                using var response = await client.SendAsync(request);
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        });
        await Task.WhenAll(workers);
        if (failures > 0)
        {
            throw new InvalidOperationException($"{failures} of {requests} requests failed.");
        }

        return (requests / stopwatch.Elapsed.TotalSeconds, [.. latencies]);
    }

    /// <summary>Time from capture to the start of a tier-0 action, and memory, while noise streams in at 100,000 signals/s.</summary>
    private async Task LatencyAndMemoryAsync(BenchmarkHost host)
    {
        var intake = host.Services.GetRequiredService<SignalIntake>();
        using var stop = new CancellationTokenSource();
        long streamed = 0;
        var noise = Enumerable.Range(0, 100).Select(i => Plain(i, 100)).ToArray();
        // Its own thread, not a pool thread: a loop that sleeps a millisecond at a time would hold a
        // pool thread for the whole phase, one fewer for Grace on a two-core machine.
        var stream = Task.Factory.StartNew(() =>
        {
            // noiseRate / 1000 signals every millisecond (100 by default: 100,000 signals/s).
            var clock = Stopwatch.StartNew();
            while (!stop.IsCancellationRequested)
            {
                var due = (long)(clock.Elapsed.TotalMilliseconds * noiseRate / 1000);
                while (streamed < due)
                {
                    intake.TryWrite(noise[streamed % noise.Length]);
                    streamed++;
                }

                Thread.Sleep(1);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        // Probes first, not counted: the first mission of a kind compiles and loads what every later one reuses, and
        // the runtime optimizes a method only after some 30 calls (tiered compilation), so a mission's path runs
        // unoptimized code for its first few dozen missions. How slow those are is printed on its own below.
        var warmUp = new List<double>();
        for (var warm = 0; warm < warmUpProbes; warm++)
        {
            var fingerprint = $"warm-up-{warm}";
            var warmSent = DateTimeOffset.UtcNow;
            intake.TryWrite(new Signal("latency-probe", $"latency probe {fingerprint}", Severity.Error, warmSent, MessageTemplate: fingerprint));
            if (await WaitExecutedAsync(host, fingerprint) is { } warmAt)
            {
                warmUp.Add((warmAt.Executed - warmSent).TotalMilliseconds);
            }

            await Task.Delay(100);
        }

        if (warmUp.Count > 0)
        {
            output.WriteLine($"warm-up probes (not counted), capture → start of action: first {warmUp[0]:0.0} ms; "
                + string.Join(", ", warmUp.Chunk(10).Select((c, i) => $"#{i * 10}–{i * 10 + c.Length - 1} p50 {Stats.Percentile([.. c], 0.5):0.0} max {c.Max():0.0} ms")));
        }

        output.WriteLine($"latency phase starts (after {warmUpProbes} warm-up probes); load average {Machine.Load()}");
        var pausedBefore = GC.GetTotalPauseDuration();
        var gen2Before = GC.CollectionCount(2);
        var gen0Before = GC.CollectionCount(0);
        var allocatedBefore = GC.GetTotalAllocatedBytes(false);
        var cpuBefore = Cpu();
        var streamedBefore = Interlocked.Read(ref streamed);
        using var sampler = sampleAllocations ? new AllocationSampler() : null;
        sampler?.Start();
        using var writer = new WriterTimings();
        var samples = new List<double>();
        var toPlanned = new List<double>();
        var plannedToAction = new List<double>();
        List<double> toCaptured = [], capturedToPlanned = [], toCleared = [], toSnapshot = [], toIntent = [], toDone = [], untilDone = [];
        var memory = new List<(TimeSpan At, long WorkingSet, long Managed)>();
        var clock = Stopwatch.StartNew();
        var probes = 0;
        while (clock.Elapsed < soak)
        {
            var fingerprint = $"probe-{probes++}";
            var sent = DateTimeOffset.UtcNow;
            intake.TryWrite(new Signal("latency-probe", $"latency probe {fingerprint}", Severity.Error, sent, MessageTemplate: fingerprint));
            var executed = await WaitExecutedAsync(host, fingerprint);
            if (executed is { } at)
            {
                // Capture stores the signal (group commit), the planning service plans it (a mission with
                // its contract and baseline reading), then the target's grain gates and commits the intent.
                samples.Add((at.Executed - sent).TotalMilliseconds);
                toPlanned.Add((at.Planned - sent).TotalMilliseconds);
                toCaptured.Add((at.Captured - sent).TotalMilliseconds);
                capturedToPlanned.Add((at.Planned - at.Captured).TotalMilliseconds);
                plannedToAction.Add((at.Executed - at.Planned).TotalMilliseconds);
                if (at is { Cleared: { } cleared, Snapshot: { } snapshot, Done: { } done })
                {
                    toCleared.Add((cleared - at.Planned).TotalMilliseconds);
                    toSnapshot.Add((snapshot - cleared).TotalMilliseconds);
                    toIntent.Add((at.Executed - snapshot).TotalMilliseconds);
                    toDone.Add((done - at.Executed).TotalMilliseconds);
                    untilDone.Add((done - sent).TotalMilliseconds);
                }
            }

            if (memory.Count == 0 || clock.Elapsed - memory[^1].At >= TimeSpan.FromSeconds(10))
            {
                using var process = Process.GetCurrentProcess();
                memory.Add((clock.Elapsed, process.WorkingSet64, GC.GetTotalMemory(false)));
            }

            await Task.Delay(200);
        }

        sampler?.Stop();
        var allocated = GC.GetTotalAllocatedBytes(false) - allocatedBefore;
        var gen0 = GC.CollectionCount(0) - gen0Before;
        var cores = (Cpu() - cpuBefore) / clock.Elapsed;
        await stop.CancelAsync();
        await stream;
        // The signals streamed while the probes were counted (the stream ran through the warm-up too).
        var rate = (streamed - streamedBefore) / clock.Elapsed.TotalSeconds;
        // Bytes per signal streamed in (the probes' missions are a rounding error beside 100,000 signals/s):
        // what the collector has to clear, and so how often it pauses the whole process.
        output.WriteLine($"allocated in the phase: {allocated / 1048576.0:N0} MiB, {(double)allocated / Math.Max(1, streamed - streamedBefore):N0} bytes per signal streamed in; {gen0} gen-0 collections; the process used {cores:0.00} of {Environment.ProcessorCount} cores");
        PrintAllocations(sampler);
        foreach (var line in writer.Summary(clock.Elapsed))
        {
            output.WriteLine($"writer: {line}");
        }

        double P(double q) => Stats.Percentile(samples, q);
        var stats = await host.Services.GetRequiredService<CaptureMonitor>().ReadAsync(CancellationToken.None);
        _rows.Add(($"Capture → start of a tier-0 action, while {rate:N0} signals/s stream in ({samples.Count} probes)", $"p50 {P(0.5):0.0} ms, p99 {P(0.99):0.0} ms", "n/a", "p99 ≤ 5 ms"));
        _rows.Add(("… of which capture → mission planned (stored, queued, diagnosed, contract and baseline written)", $"p50 {Stats.Percentile(toPlanned, 0.5):0.0} ms, p99 {Stats.Percentile(toPlanned, 0.99):0.0} ms", "n/a", ""));
        _rows.Add(("… of which planned → intent committed (gate, snapshot, policy again, intent)", $"p50 {Stats.Percentile(plannedToAction, 0.5):0.0} ms, p99 {Stats.Percentile(plannedToAction, 0.99):0.0} ms", "n/a", ""));
        var first = memory.First();
        var last = memory.Last();
        _rows.Add(($"Memory over {soak.TotalMinutes:0.#} min at that rate (working set / managed heap)",
            $"{first.WorkingSet / 1048576} → {last.WorkingSet / 1048576} MiB / {first.Managed / 1048576} → {last.Managed / 1048576} MiB", "n/a", "steady, not growing"));
        output.WriteLine($"latency: p50 {P(0.5):0.0} ms p99 {P(0.99):0.0} ms over {samples.Count} probes at {rate:N0}/s; dropped {stats.Dropped:N0}; "
            + $"to planned {Stats.Summary(toPlanned)}; planned to intent {Stats.Summary(plannedToAction)}; load average {Machine.Load()}");
        // Which probes were slow, and whether the process was paused for the collector meanwhile.
        var slowest = samples.Select((ms, i) => (ms, i)).OrderByDescending(x => x.ms).Take(5).Select(x => $"#{x.i} {x.ms:0} ms");
        output.WriteLine($"slowest probes: {string.Join(", ", slowest)}; GC paused {(GC.GetTotalPauseDuration() - pausedBefore).TotalMilliseconds:0} ms in all, {GC.CollectionCount(2) - gen2Before} gen-2 collections");
        output.WriteLine($"capture to planned, in parts: sent → capture's transaction began (intake queue, batches before it, fingerprinting) {Stats.Summary(toCaptured)}; "
            + $"transaction began → planned (capture commit, planning queue, diagnosis, planner reads) {Stats.Summary(capturedToPlanned)}");
        output.WriteLine($"planned to intent, in parts: planned → gate cleared (plan commit, vacuous check, policy) {Stats.Summary(toCleared)}; "
            + $"cleared → snapshot (gate commit, next step, policy again, snapshot) {Stats.Summary(toSnapshot)}; snapshot → intent {Stats.Summary(toIntent)}; "
            + $"intent → action done (intent commit, action) {Stats.Summary(toDone)}; capture → action done {Stats.Summary(untilDone)}");
        _rows.Add(("… and capture → action done (intent committed and the action ran)", $"p50 {Stats.Percentile(untilDone, 0.5):0.0} ms, p99 {Stats.Percentile(untilDone, 0.99):0.0} ms", "n/a", ""));
        foreach (var m in memory)
        {
            output.WriteLine($"memory at {m.At.TotalSeconds:0}s: working set {m.WorkingSet / 1048576} MiB, managed {m.Managed / 1048576} MiB");
        }
    }

    /// <summary>When a probe's mission passed each point: captured (its incident's last seen: when capture's transaction for it began), planned (before the plan's commit), gate cleared (before its commit), snapshot taken, intent (before its commit), action done (after the intent's commit and the action).</summary>
    private sealed record Timeline(DateTimeOffset Captured, DateTimeOffset Planned, DateTimeOffset? Cleared, DateTimeOffset? Snapshot, DateTimeOffset Executed, DateTimeOffset? Done);

    private static async Task<Timeline?> WaitExecutedAsync(BenchmarkHost host, string template)
    {
        var factory = host.Services.GetRequiredService<IDbContextFactory<GraceDbContext>>();
        for (var i = 0; i < 500; i++)
        {
            await using var db = await factory.CreateDbContextAsync();
            var executed = await db.Missions.AsNoTracking()
                .Where(m => m.Incident!.Template == template && m.ExecutedAt != null).Select(m => new { m.Id, m.CreatedAt, m.ExecutedAt, Captured = m.Incident!.LastSeenAt }).FirstOrDefaultAsync();
            if (executed is not null)
            {
                // The action's own line is written after it ran; wait a moment for it.
                List<MissionEvent> events = [];
                for (var j = 0; j < 100 && !events.Any(e => e.Kind == "executed"); j++)
                {
                    events = await db.MissionEvents.AsNoTracking().Where(e => e.MissionId == executed.Id).ToListAsync();
                    if (!events.Any(e => e.Kind == "executed"))
                    {
                        await Task.Delay(5);
                    }
                }

                DateTimeOffset? At(string kind) => events.Where(e => e.Kind == kind).Select(e => (DateTimeOffset?)e.At).FirstOrDefault();
                return new Timeline(executed.Captured, executed.CreatedAt, At("cleared"), At("snapshot"), executed.ExecutedAt!.Value, At("executed"));
            }

            await Task.Delay(5);
        }

        return null;
    }
}

/// <summary>Grace itself on Kestrel (loopback), on a temporary SQLite file, with limits opened for load.</summary>
internal sealed class BenchmarkHost : WebApplicationFactory<Program>
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "grace-bench", Guid.NewGuid().ToString("N"));
    private readonly Dictionary<string, string?> _extra;
    private string? _key;
    private readonly string _baseUrl;

    public BenchmarkHost(Dictionary<string, string?>? extra = null)
    {
        _extra = extra ?? [];
        Directory.CreateDirectory(_folder);
        UseKestrel(0);
        StartServer();
        _baseUrl = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Grace:Database:DataDirectory"] = Path.Combine(_folder, "data"),
            ["Grace:Identity:AdminPassword"] = "Benchmark-Password-1",
            ["Grace:Http:AllowedHosts:0"] = "127.0.0.1",
            ["Grace:Http:AllowedHosts:1"] = "localhost",
            ["Grace:Ingestion:RequestsPerSecondPerKey"] = "1000000",
            ["Grace:Ingestion:BurstPerKey"] = "1000000",
            ["Grace:Engine:CaptureBufferCapacity"] = "1000000",
            ["Grace:Engine:CaptureBatchSize"] = "20000",
            ["Grace:Engine:MaxRunsPerHour"] = "10000",
            ["Grace:Engine:MaxMissionStartsPerMinute"] = "10000",
            ["Grace:Engine:VerifyPollIntervalMilliseconds"] = "50",
            // The probe playbook sets a level its next probe finds already set: its witness contract
            // holds at planning, which Grace otherwise refuses to act on (issue 15). The benchmark
            // times the path to the action, so it acts anyway.
            ["Grace:Autonomy:VacuousContract"] = "Act",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            ["Serilog:MinimumLevel:Override:Microsoft.AspNetCore"] = "Error",
            // A tier-0 playbook for the latency probes: a real, cheap action whose contract holds at once.
            ["Grace:Patterns:latency-probe:Source"] = "latency-probe",
            ["Grace:Patterns:latency-probe:Playbooks:0"] = "latency-probe",
            ["Grace:Playbooks:latency-probe:Action"] = "logging.set-level",
            ["Grace:Playbooks:latency-probe:Target"] = "grace",
            ["Grace:Playbooks:latency-probe:Tier"] = "0",
            ["Grace:Playbooks:latency-probe:CooldownSeconds"] = "0",
            ["Grace:Playbooks:latency-probe:Parameters:Source"] = "Grace.Web",
            ["Grace:Playbooks:latency-probe:Parameters:Level"] = "Warning",
            ["Grace:Playbooks:latency-probe:Contract:Probe"] = "logging.level",
            ["Grace:Playbooks:latency-probe:Contract:Parameters:Source"] = "Grace.Web",
            ["Grace:Playbooks:latency-probe:Contract:Comparator"] = "Equal",
            ["Grace:Playbooks:latency-probe:Contract:Threshold"] = "3",
        }).AddInMemoryCollection(_extra));
    }

    public HttpClient Client(int connections = 64)
    {
        _key ??= Services.GetRequiredService<ApiKeyService>().CreateAsync("benchmark", new Actor("admin", [GraceRoles.Admin]), default).GetAwaiter().GetResult().Key;
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections }) { BaseAddress = new Uri(_baseUrl) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _key);
        return client;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
