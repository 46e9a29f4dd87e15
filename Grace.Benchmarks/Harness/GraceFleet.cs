using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Grace.Data;
using Microsoft.EntityFrameworkCore;
using Polly;
using Polly.Retry;

namespace Grace.Benchmarks.Harness;

/// <summary>
/// What every Grace of a run is configured with: only the harness's own targets (HTTP services on
/// the recording target), one pattern and one tier-0 playbook per source prefix, and engine policy
/// opened where a benchmark would otherwise measure a cap instead of the engine (cooldowns, hourly
/// and storm caps). Written to one settings file that every instance reads (<c>GRACE_SETTINGS</c>).
/// </summary>
internal sealed class BenchCatalog(RecordingTarget recorder)
{
    public const string AdminPassword = "Benchmark-Admin-Password-1";
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private readonly Dictionary<string, object> _targets = new(StringComparer.Ordinal);
    private readonly Dictionary<string, object> _patterns = new(StringComparer.Ordinal);
    private readonly Dictionary<string, object> _playbooks = new(StringComparer.Ordinal);

    /// <summary>Engine settings beyond the shipped defaults (<c>Grace:Engine</c>).</summary>
    public Dictionary<string, object> Engine { get; } = new(StringComparer.Ordinal)
    {
        ["MaxRunsPerHour"] = 10_000,
        ["MaxConcurrentMissions"] = 64,
        ["DefaultCooldownSeconds"] = 0,
        ["MaxMissionStartsPerFingerprintPerHour"] = 1000,
        ["MaxMissionStartsPerMinute"] = 100_000,
    };

    /// <summary>A target on the recording service; <paramref name="instance"/> pins its grain (and its actions) to one instance.</summary>
    public void Target(string name, string? instance = null) =>
        _targets[name] = instance is null ? new { Kind = "Http", Url = recorder.Url } : new { Kind = "Http", Url = recorder.Url, Instance = instance };

    /// <summary>A pattern matching signals whose source starts with <paramref name="sourcePrefix"/>, and its tier-0 playbook: POST <c>/t/{target}/act</c>, contract <c>/t/{target}/ok</c> answers &lt; 400.</summary>
    public void Playbook(string key, string target, string sourcePrefix, int deadlineSeconds = 20)
    {
        _patterns[key] = new { Source = sourcePrefix, Playbooks = new[] { key } };
        _playbooks[key] = new
        {
            Action = "http.call",
            Target = target,
            Tier = 0,
            CooldownSeconds = 0,
            Parameters = new { Method = "POST", Path = RecordingTarget.PathOf(target, "act"), RollbackMethod = "POST", RollbackPath = RecordingTarget.PathOf(target, "undo") },
            Contract = new { Probe = "http.status", Parameters = new { Path = RecordingTarget.PathOf(target, "ok") }, Comparator = "LessThan", Threshold = 400, DeadlineSeconds = deadlineSeconds },
        };
    }

    public string Write(string folder)
    {
        var engine = new Dictionary<string, object>(Engine, StringComparer.Ordinal) { ["QuarantineDirectory"] = Path.Combine(folder, "quarantine") };
        var settings = new Dictionary<string, object>
        {
            // Grace's own lines at Information (mission ends, failover, warnings), the rest at Warning: the log is evidence, not load.
            ["Serilog"] = new
            {
                MinimumLevel = new { Default = "Warning", Override = new Dictionary<string, string> { ["Grace"] = "Information", ["Orleans"] = "Warning" } },
                WriteTo = new[] { new { Name = "Console", Args = new { outputTemplate = "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}" } } },
            },
            ["Grace"] = new Dictionary<string, object>
            {
                ["Identity"] = new { AdminPassword },
                ["Ingestion"] = new { RequestsPerSecondPerKey = 1_000_000, BurstPerKey = 1_000_000 },
                ["Engine"] = engine,
                // The recording service's witness contract holds before the action: the benches measure the engine, not the contract.
                ["Autonomy"] = new { VacuousContract = "Act" },
                ["Targets"] = _targets,
                ["Patterns"] = _patterns,
                ["Playbooks"] = _playbooks,
            },
        };
        var file = Path.Combine(folder, "grace-bench.json");
        File.WriteAllText(file, JsonSerializer.Serialize(settings, Indented));
        return file;
    }
}

/// <summary>
/// The Grace processes of one run on one database: a cluster of several on PostgreSQL, or one
/// alone on SQLite. Signals go in over real HTTP with an API key; the harness reads the database
/// directly for what happened. Disposing stops every process.
/// </summary>
internal sealed class GraceFleet : IAsyncDisposable
{
    /// <summary>Orleans' <c>SiloStatus</c> numbers as the membership table stores them.</summary>
    public const int Active = 3;
    public const int Dead = 6;

    private readonly Dictionary<GraceProcess, HttpClient> _ingest = [];
    private int _next;

    private GraceFleet(BenchDatabase database) => Database = database;

    public BenchDatabase Database { get; }
    public List<GraceProcess> Instances { get; } = [];
    public string ApiKey { get; private set; } = "";
    public bool IsCluster => Database.Provider != DatabaseProvider.Sqlite;

    /// <summary>Retries a signal request on the next running instance: a killed instance refuses connections, or cuts one in the middle.</summary>
    private static readonly ResiliencePipeline<HttpResponseMessage> SignalRetry = new ResiliencePipelineBuilder<HttpResponseMessage>()
        .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
        {
            ShouldHandle = new PredicateBuilder<HttpResponseMessage>().Handle<HttpRequestException>().Handle<TaskCanceledException>()
                .HandleResult(r => r.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.BadGateway),
            MaxRetryAttempts = 4,
            Delay = TimeSpan.FromMilliseconds(200),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
        })
        .Build();

    public static async Task<GraceFleet> StartAsync(BenchDatabase database, IReadOnlyList<string> names, string settingsFile, string folder)
    {
        var fleet = new GraceFleet(database);
        try
        {
            foreach (var name in names)
            {
                var environment = new Dictionary<string, string>
                {
                    ["Grace:Database:Provider"] = database.Provider.ToString(),
                    ["Grace:Database:DataDirectory"] = Path.Combine(folder, name),
                    ["Grace:Cluster:InstanceName"] = name,
                    ["Grace:Cluster:SiloPort"] = "0",
                    ["Grace:Cluster:AdvertisedAddress"] = "127.0.0.1",
                };
                if (database.Provider != DatabaseProvider.Sqlite)
                {
                    environment["Grace:Database:ConnectionString"] = database.ConnectionString;
                }

                Directory.CreateDirectory(Path.Combine(folder, name));
                fleet.Instances.Add(await GraceProcess.StartAsync(name, settingsFile, environment, folder));
            }

            // Keys live in the database: one key works on every instance, and after every restart.
            fleet.ApiKey = await fleet.Instances[0].CreateApiKeyAsync(BenchCatalog.AdminPassword);
            foreach (var instance in fleet.Instances)
            {
                var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5) })
                {
                    BaseAddress = instance.BaseAddress,
                    Timeout = TimeSpan.FromSeconds(30),
                };
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", fleet.ApiKey);
                fleet._ingest[instance] = client;
            }

            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }
    }

    public GraceProcess Instance(string name) => Instances.Single(i => i.Name == name);

    public GraceDbContext Db() => Database.Db();

    /// <summary>The outcome of one signal request: whether Grace answered 202 (stored), and on which instance.</summary>
    public readonly record struct Sent(bool Accepted, string? Instance, int Attempts, HttpStatusCode? Status);

    /// <summary>
    /// Posts signals (a JSON object or array) to an instance, and on a refused or cut connection to
    /// the next running one (or, with <paramref name="stayOn"/>, to the same one again).
    /// <paramref name="onAttempt"/> is told of every attempt, so a harness can count what it may
    /// have stored without an answer.
    /// </summary>
    public async Task<Sent> PostSignalsAsync(object body, GraceProcess? first = null, Action? onAttempt = null, bool stayOn = false, CancellationToken cancellationToken = default)
    {
        var attempts = 0;
        GraceProcess? last = null;
        HttpStatusCode? status = null;
        try
        {
            using var response = await SignalRetry.ExecuteAsync(async ct =>
            {
                var instance = first is not null && (stayOn || (attempts == 0 && first.Running)) ? first : NextRunning();
                attempts++;
                last = instance;
                onAttempt?.Invoke();
                var answer = await _ingest[instance].PostAsJsonAsync("api/signals", body, ct);
                status = answer.StatusCode;
                return answer;
            }, cancellationToken);
            return new Sent(response.StatusCode == HttpStatusCode.Accepted, last?.Name, attempts, response.StatusCode);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new Sent(false, last?.Name, attempts, status);
        }
    }

    /// <summary>The next running instance, in turn.</summary>
    public GraceProcess NextRunning()
    {
        for (var i = 0; i < Instances.Count; i++)
        {
            var candidate = Instances[(int)((uint)Interlocked.Increment(ref _next) % Instances.Count)];
            if (candidate.Running)
            {
                return candidate;
            }
        }

        // None running: try one anyway; the request fails and the caller counts it as not accepted.
        return Instances[0];
    }

    /// <summary>
    /// Waits until every running instance's newest membership row is Active (alone on SQLite there
    /// is no table: answering is enough), so a measurement starts on a whole cluster.
    /// </summary>
    public async Task WaitAllActiveAsync(TimeSpan timeout)
    {
        if (!IsCluster)
        {
            return;
        }

        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            await using (var db = Db())
            {
                var rows = await db.ClusterMembers.AsNoTracking().Select(m => new { m.SiloName, m.Status, m.StartedAt }).ToListAsync();
                var newest = rows.GroupBy(r => r.SiloName).ToDictionary(g => g.Key, g => g.OrderByDescending(r => r.StartedAt).First().Status);
                if (Instances.Where(i => i.Running).All(i => newest.GetValueOrDefault(i.Name) == Active))
                {
                    return;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Not every instance became Active in the membership table within {timeout.TotalSeconds:0} s.");
            }

            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _ingest.Values)
        {
            client.Dispose();
        }

        // Stopped one after another: each gets its graceful stop, and a kill if it hangs.
        foreach (var instance in Instances)
        {
            await instance.DisposeAsync();
        }
    }
}
