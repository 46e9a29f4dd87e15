using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Grace.Benchmarks.Harness;
using Grace.Data.Entities;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Benchmarks;

/// <summary>
/// Memory per console circuit: a real Grace process (Production, SQLite), one person signed in, and
/// N circuits opened the way blazor.web.js opens them: the page is prerendered over HTTP, then a
/// WebSocket to <c>/_blazor</c> starts a circuit and adds the page's root components. Render batches
/// are acknowledged and JavaScript calls answered, so each circuit stays alive as a browser's would.
/// The figure is the growth of the process's resident memory divided by N, after a warm-up.
/// </summary>
internal sealed partial class CircuitDriver(TextWriter output, int circuits, string page, bool workstationGc, bool deflate = false, int seedIncidents = 0, int seedAudit = 0, string? zone = null, bool negotiatePerCircuit = false)
{
    /// <summary>Missions stored before the circuits open (detail, approval and learning pages); see <see cref="CircuitPageSeeds"/>.</summary>
    public CircuitPageSeeds PageSeeds { get; init; } = CircuitPageSeeds.None;

    private const string Password = "Benchmark-Password-1";
    private const int WarmUp = 10;

    public async Task RunAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), "grace-bench", $"circuits-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        Directory.CreateDirectory(folder);
        var settings = Path.Combine(folder, "appsettings.json");
        File.Copy(Path.Combine(RepositoryRoot(), "appsettings.json"), settings);
        var environment = new Dictionary<string, string>(PageSeeds.Settings(folder))
        {
            ["Grace:Database:DataDirectory"] = Path.Combine(folder, "data"),
            ["Grace:Identity:AdminPassword"] = Password,
            ["Grace:Targets:demo-orders-api:Url"] = $"http://127.0.0.1:{Loopback.FreePort()}/",
            ["Grace:Http:MaxCircuitsPerUser"] = (circuits + WarmUp + 10).ToString(CultureInfo.InvariantCulture),
            ["Grace:Http:MaxCircuits"] = (circuits + WarmUp + 10).ToString(CultureInfo.InvariantCulture),
            ["Serilog:MinimumLevel:Default"] = "Warning",
            // Server GC (the web SDK's default) keeps more garbage resident; workstation GC shows closer to what circuits hold.
            ["DOTNET_gcServer"] = workstationGc ? "0" : "1",
        };
        await using var grace = await GraceProcess.StartAsync("circuits", settings, environment, folder);
        var pid = grace.Pid ?? throw new InvalidOperationException("Grace is not running.");
        var cookie = await grace.SignInCookieAsync("admin", Password);
        if (zone is not null)
        {
            // grace.js keeps the browser's zone in a cookie (ViewerClock.ZoneCookie) for pages rendered per request (the
            // lists, which have no circuit to ask); a browser that opened the console once sends it with every request.
            cookie += $"; grace-zone={Uri.EscapeDataString(zone)}";
        }

        if (seedIncidents > 0)
        {
            await SeedIncidentsAsync(grace);
        }

        if (seedAudit > 0)
        {
            await SeedAuditAsync(Path.Combine(folder, "data"));
        }

        await using var database = BenchDatabase.Sqlite(Path.Combine(folder, "data"));
        await PageSeeds.SeedAsync(grace, PageSeeds.Missions + PageSeeds.Approvals > 0 ? await grace.CreateApiKeyAsync(Password) : "", database, output);
        var url = await CircuitPageSeeds.ResolveAsync(page, database);

        using var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = grace.BaseAddress };
        http.DefaultRequestHeaders.Add("Cookie", cookie);

        // What the circuits will hold: the list rows the page prerenders (a list's rows are "mud-table-row <list>-row").
        using (var shown = await http.GetAsync(url.TrimStart('/')))
        {
            output.WriteLine($"circuits: {url} prerenders {ListRow().Count(await shown.Content.ReadAsStringAsync())} list rows");
        }

        var open = new List<Circuit>();
        try
        {
            for (var i = 0; i < WarmUp; i++)
            {
                open.Add(await Circuit.OpenAsync(http, grace.BaseAddress, url, cookie, deflate, zone, negotiatePerCircuit));
            }

            await Task.Delay(TimeSpan.FromSeconds(10));
            var before = ResidentKilobytes(pid);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            // Resident memory is read halfway too: the growth over the second half is what one more circuit costs once
            // the server GC's budgets have grown with the first half (the average over all of them carries those budgets,
            // a fixed cost that weighs more the fewer circuits are opened).
            var half = circuits / 2;
            long middle = 0;
            var paused = TimeSpan.Zero;
            for (var i = 0; i < circuits; i++)
            {
                if (i == half)
                {
                    var pause = System.Diagnostics.Stopwatch.StartNew();
                    await Task.Delay(TimeSpan.FromSeconds(15));
                    middle = ResidentKilobytes(pid);
                    paused = pause.Elapsed;
                }

                open.Add(await Circuit.OpenAsync(http, grace.BaseAddress, url, cookie, deflate, zone, negotiatePerCircuit));
            }

            var opening = clock.Elapsed - paused;
            await Task.Delay(TimeSpan.FromSeconds(15));
            var after = ResidentKilobytes(pid);
            var alive = open.Count(c => c.Alive);
            var rendered = open.Count(c => c.Batches > 0);
            foreach (var (why, count) in open.Where(c => c.Ended is not null).GroupBy(c => c.Ended!).Select(g => (g.Key, g.Count())).Take(5))
            {
                output.WriteLine($"circuits: {count} ended: {why}");
            }

            var perCircuit = (after - before) / (double)circuits;
            output.WriteLine($"circuits: {(workstationGc ? "workstation" : "server")} GC, WebSocket compression {(deflate ? "offered (as browsers do)" : "not offered")}, "
                + (negotiatePerCircuit ? "one negotiation connection per circuit (left idle), " : "negotiation over a shared pool of connections, ")
                + (zone is null ? "time zone not named (times stay in UTC)" : $"time zone {zone} named as a browser does"));
            output.WriteLine($"circuits: page {url}, {circuits} circuits after {WarmUp} warm-up ones, opened in {opening.TotalSeconds:F1} s; "
                + $"{alive} of {open.Count} still connected, {rendered} rendered at least one batch");
            output.WriteLine($"circuits: resident memory {before / 1024.0:F0} MB -> {after / 1024.0:F0} MB: {perCircuit:F0} KB per circuit (goal: at most 300 KB)");
            output.WriteLine($"circuits: second half alone ({middle / 1024.0:F0} MB -> {after / 1024.0:F0} MB over {circuits - half} circuits): {(after - middle) / (double)(circuits - half):F0} KB per circuit");
            if (Environment.GetEnvironmentVariable("GRACE_BENCH_HOLD_SECONDS") is { Length: > 0 } hold)
            {
                // Time to take a heap dump of the server (dotnet-gcdump collect -p PID) with the circuits open.
                output.WriteLine($"circuits: holding {hold} s; Grace's pid is {pid}");
                await Task.Delay(TimeSpan.FromSeconds(double.Parse(hold, CultureInfo.InvariantCulture)));
            }

            output.WriteLine($"| {page} | {(workstationGc ? "workstation" : "server")}{(deflate ? ", deflate" : "")} | {circuits} | {before / 1024.0:F0} MB | {after / 1024.0:F0} MB | {perCircuit:F0} KB | {alive}/{open.Count} |");
        }
        finally
        {
            foreach (var circuit in open)
            {
                await circuit.DisposeAsync();
            }
        }
    }

    // A list page's rows are part of what its circuit holds: without seeding, the lists measured are empty.
    // Each signal has its own source and template, so each makes its own incident, and no pattern matches
    // them, so no mission starts. 202 means stored: the rows exist once the answer arrives.
    private async Task SeedIncidentsAsync(GraceProcess grace)
    {
        var key = await grace.CreateApiKeyAsync(Password);
        using var api = new HttpClient { BaseAddress = grace.BaseAddress };
        api.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        var signals = Enumerable.Range(0, seedIncidents).Select(i => new
        {
            source = $"bench-seed-{i}",
            message = $"Seeded incident number {i} for the circuit benchmark: the upstream answered slowly",
            messageTemplate = $"Seeded incident {i}: the upstream answered slowly",
            severity = "Error",
        });
        using var answer = await api.PostAsJsonAsync("api/signals", signals);
        if (answer.StatusCode != System.Net.HttpStatusCode.Accepted)
        {
            throw new InvalidOperationException($"Seeding {seedIncidents} incidents failed: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
        }

        output.WriteLine($"circuits: seeded {seedIncidents} incidents ({await answer.Content.ReadAsStringAsync()})");
    }

    // The Audit list needs rows too: entries written into the database directly (what people's actions would have
    // left there). Missions for the Missions list come from --seed-missions (CircuitPageSeeds).
    private async Task SeedAuditAsync(string dataDirectory)
    {
        await using var database = BenchDatabase.Sqlite(dataDirectory);
        await using var db = database.Db();
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < seedAudit; i++)
        {
            db.AuditEntries.Add(new AuditEntry
            {
                At = now.AddSeconds(-i), Actor = i % 2 == 0 ? "admin" : "operator-on-call", Action = i % 3 == 0 ? "mission.approve" : "incident.assign",
                Subject = $"mission {Guid.NewGuid()}", Detail = $"Seeded audit entry {i}: approved after checking the orders API's error rate", RemoteAddress = "192.0.2.10",
            });
        }

        await db.SaveChangesAsync();
        output.WriteLine($"circuits: wrote {seedAudit} audit entries into the database");
    }

    private static long ResidentKilobytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no VmRSS.");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Grace.Console.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("Grace.Console.sln not found above the benchmark's folder.");
    }

    [GeneratedRegex("<!--Blazor:(\\{.*?\\})-->")]
    private static partial Regex Marker();

    [GeneratedRegex("<tr[^>]* class=\"mud-table-row [a-z]+-row")]
    private static partial Regex ListRow();

    [GeneratedRegex("<!--Blazor-Server-Component-State:(.*?)-->")]
    private static partial Regex State();

    /// <summary>One browser tab's circuit, driven as blazor.web.js drives it.</summary>
    private sealed class Circuit : IAsyncDisposable
    {
        private readonly HubConnection _connection;
        private int _batches;

        private Circuit(HubConnection connection) => _connection = connection;

        public bool Alive => _connection.State == HubConnectionState.Connected;

        public int Batches => Volatile.Read(ref _batches);

        /// <summary>Why the circuit ended, if it did: the server's error or the connection's.</summary>
        public string? Ended { get; private set; }

        public static async Task<Circuit> OpenAsync(HttpClient http, Uri baseAddress, string page, string cookie, bool deflate, string? zone, bool negotiatePerCircuit)
        {
            using var response = await http.GetAsync(page.TrimStart('/'));
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"{page} answered {(int)response.StatusCode} {response.Headers.Location}");
            }

            var html = await response.Content.ReadAsStringAsync();
            var state = State().Match(html).Groups[1].Value;
            var operations = new JsonArray();
            var id = 1;
            foreach (Match match in Marker().Matches(html))
            {
                var marker = JsonNode.Parse(match.Groups[1].Value)!.AsObject();
                if (marker["descriptor"] is null)
                {
                    continue;
                }

                operations.Add(new JsonObject { ["type"] = "add", ["ssrComponentId"] = id++, ["marker"] = marker.DeepClone() });
            }

            if (operations.Count == 0)
            {
                throw new InvalidOperationException($"{page} has no interactive server components to start.");
            }

            var builder = new HubConnectionBuilder()
                .WithUrl(new Uri(baseAddress, "_blazor"), Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets, o =>
                {
                    o.Headers["Cookie"] = cookie;
                    if (!negotiatePerCircuit)
                    {
                        // A browser negotiates over its pooled connections (six per host, shared by every tab). The
                        // SignalR client's own HttpClient would leave one idle keep-alive connection per circuit on the
                        // server (Kestrel's connection, its pipes and the request's headers, cookie included), which a
                        // browser's tab does not cost. --negotiate-per-circuit keeps the old behaviour.
                        o.HttpMessageHandlerFactory = _ => new SharedNegotiation();
                    }

                    if (deflate)
                    {
                        // What browsers do: offer permessage-deflate on every WebSocket (Blazor's hub accepts it by default).
                        o.WebSocketConfiguration = ws => ws.DangerousDeflateOptions = new System.Net.WebSockets.WebSocketDeflateOptions();
                    }
                });
            // The Blazor hub speaks only "blazorpack": MessagePack under another name. The last protocol registered is the one used.
            builder.Services.AddSingleton<IHubProtocol, BlazorPackProtocol>();
            var connection = builder.Build();
            var circuit = new Circuit(connection);
            connection.On<long, byte[]>("JS.RenderBatch", async (batchId, _) =>
            {
                Interlocked.Increment(ref circuit._batches);
                await connection.SendAsync("OnRenderCompleted", batchId, (string?)null);
            });
            // Six arguments since .NET 10 (the last is the call's kind: a function, a constructor, a property read or
            // write). A handler of five never matched: SignalR dropped every call, so until 2026-12-01 no JavaScript call
            // was answered, each stayed pending in its circuit until Blazor's one-minute timeout, and --zone did nothing.
            connection.On<long, string, string, int, long, int>("JS.BeginInvokeJS", async (taskId, identifier, args, resultType, _, _) =>
            {
                if (Environment.GetEnvironmentVariable("GRACE_BENCH_DEBUG_JS") is "1")
                {
                    Console.WriteLine($"JS call {taskId} {identifier} {args} {resultType}");
                }

                if (taskId != 0)
                {
                    // A browser would run the function; a null result is what most of the console's calls return. With
                    // --zone the circuit names its time zone as a browser does (ViewerClock asks Intl.DateTimeFormat() for
                    // its resolvedOptions()), and pages then rewrite the times they show, as they do for people.
                    var result = (zone, identifier) switch
                    {
                        ({ }, "Intl.DateTimeFormat") => "{\"__jsObjectId\":1}",
                        ({ } name, "resolvedOptions") => System.Text.Json.JsonSerializer.Serialize(new { timeZone = name }),
                        _ => "null",
                    };
                    await connection.SendAsync("EndInvokeJSFromDotNet", taskId, true, $"[{taskId},true,{result}]");
                }
            });
            connection.On<string>("JS.Error", error => circuit.Ended ??= $"server: {error}");
            connection.Closed += error =>
            {
                circuit.Ended ??= $"closed: {error?.Message ?? "by the server"}";
                return Task.CompletedTask;
            };
            await connection.StartAsync();
            var circuitId = await connection.InvokeAsync<string?>("StartCircuit", baseAddress.ToString(), new Uri(baseAddress, page.TrimStart('/')).ToString(), "[]", state);
            if (string.IsNullOrEmpty(circuitId))
            {
                throw new InvalidOperationException("The server refused to start a circuit.");
            }

            await connection.SendAsync("UpdateRootComponents", new JsonObject { ["batchId"] = 1, ["operations"] = operations }.ToJsonString(), state);
            return circuit;
        }

        public async ValueTask DisposeAsync() => await _connection.DisposeAsync();
    }

    /// <summary>The negotiation requests of every circuit over one pool of connections, as a browser's tabs share theirs.</summary>
    private sealed class SharedNegotiation : HttpMessageHandler
    {
        private static readonly HttpMessageInvoker Pool = new(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 6 }, disposeHandler: false);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Pool.SendAsync(request, cancellationToken);
    }
}

/// <summary>Blazor's hub protocol: MessagePack's wire format, named "blazorpack".</summary>
internal sealed class BlazorPackProtocol : IHubProtocol
{
    private readonly MessagePackHubProtocol _inner = new();

    public string Name => "blazorpack";

    public int Version => _inner.Version;

    public TransferFormat TransferFormat => TransferFormat.Binary;

    public bool IsVersionSupported(int version) => _inner.IsVersionSupported(version);

    public bool TryParseMessage(ref ReadOnlySequence<byte> input, IInvocationBinder binder, [NotNullWhen(true)] out HubMessage? message) =>
        _inner.TryParseMessage(ref input, binder, out message);

    public void WriteMessage(HubMessage message, IBufferWriter<byte> output) => _inner.WriteMessage(message, output);

    public ReadOnlyMemory<byte> GetMessageBytes(HubMessage message) => _inner.GetMessageBytes(message);
}
