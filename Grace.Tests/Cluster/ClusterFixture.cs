using System.Text.Json;
using Grace.Data;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Cluster;

/// <summary>
/// Three real Grace processes (grace-1, grace-2, grace-3) on one fresh PostgreSQL database, acting
/// on a recording HTTP service outside them: the set-up an operations team runs for high
/// availability. Started once for the cluster tests and stopped at the end.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const string AdminPassword = TestCatalog.AdminPassword;
    public const int Targets = 20;
    public static readonly string[] Names = ["grace-1", "grace-2", "grace-3"];

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;

    public RecordingTarget Recorder { get; private set; } = null!;
    public List<GraceProcess> Instances { get; } = [];
    public List<HttpClient> Ingest { get; } = [];
    public List<HttpClient> Admins { get; } = [];

    public static string TargetName(int i) => $"t{i:00}";

    public GraceProcess Instance(string name) => Instances.Single(i => i.Name == name);

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseProvider.Postgres, _folder);
        Recorder = await RecordingTarget.StartAsync();
        var settings = _folder.Combine("grace-cluster.json");
        await File.WriteAllTextAsync(settings, JsonSerializer.Serialize(Catalog(), Indented));
        foreach (var name in Names)
        {
            Instances.Add(await GraceProcess.StartAsync(name, settings, new Dictionary<string, string>
            {
                ["Grace:Database:Provider"] = "Postgres",
                ["Grace:Database:ConnectionString"] = _database.ConnectionString!,
                ["Grace:Cluster:InstanceName"] = name,
                ["Grace:Cluster:SiloPort"] = "0",
                ["Grace:Cluster:AdvertisedAddress"] = "127.0.0.1",
                ["Grace:Database:DataDirectory"] = _folder.Combine(name),
            }));
        }

        foreach (var instance in Instances)
        {
            Ingest.Add(await instance.IngestClientAsync(AdminPassword));
            Admins.Add(await instance.SignedInClientAsync("admin", AdminPassword));
        }
    }

    /// <summary>A context on the cluster's database, for the tests' own reading.</summary>
    public GraceDbContext Db() => new PostgresGraceDbContext(new DbContextOptionsBuilder<PostgresGraceDbContext>().UseNpgsql(_database.ConnectionString).Options);

    /// <summary>What every instance runs with: only the test's own targets, patterns and playbooks.</summary>
    private Dictionary<string, object> Catalog()
    {
        var targets = new Dictionary<string, object>();
        var patterns = new Dictionary<string, object>();
        var playbooks = new Dictionary<string, object>();
        for (var i = 0; i < Targets; i++)
        {
            var t = TargetName(i);
            targets[t] = new { Kind = "Http", Url = Recorder.Url };
            // Two playbooks per target: two missions may want the same target at the same moment.
            foreach (var letter in new[] { "a", "b" })
            {
                patterns[$"{t}-{letter}"] = new { Source = $"cl-{t}-{letter}-", Playbooks = new[] { $"act-{t}-{letter}" } };
                playbooks[$"act-{t}-{letter}"] = Playbook(t, tier: 2);
            }
        }

        // A slow action, to kill its instance in the middle of it.
        targets["slow"] = new { Kind = "Http", Url = Recorder.Url };
        patterns["slow"] = new { Source = "cl-slow-", Playbooks = new[] { "act-slow" } };
        playbooks["act-slow"] = Playbook("slow", tier: 0);

        // A target whose grain must live on grace-3: its timeline lines are written there.
        targets["pinned"] = new { Kind = "Http", Url = Recorder.Url, Instance = "grace-3" };
        patterns["pinned"] = new { Source = "cl-pinned-", Playbooks = new[] { "act-pinned" } };
        playbooks["act-pinned"] = Playbook("pinned", tier: 0);

        // A health check every second, to count how often the whole cluster reads it.
        targets["checked"] = new
        {
            Kind = "Http",
            Url = Recorder.Url,
            HealthCheck = new { Probe = "http.status", Parameters = new { Path = RecordingTarget.PathOf("checked", "health") }, Comparator = "LessThan", Threshold = 400, IntervalSeconds = 1 },
        };

        return new Dictionary<string, object>
        {
            ["Serilog"] = new { MinimumLevel = new { Default = "Warning", Override = new Dictionary<string, string> { ["Grace"] = "Information", ["Orleans"] = "Warning" } }, WriteTo = new[] { new { Name = "Console" } } },
            ["Grace"] = new Dictionary<string, object>
            {
                ["Identity"] = new { AdminPassword },
                ["Ingestion"] = new { RequestsPerSecondPerKey = 100_000, BurstPerKey = 100_000 },
                ["Engine"] = new
                {
                    SweepIntervalSeconds = 1,
                    VerifyPollIntervalMilliseconds = 200,
                    MaxRunsPerHour = 10_000,
                    MaxConcurrentMissions = 64,
                    DefaultCooldownSeconds = 0,
                    MaxMissionStartsPerFingerprintPerHour = 1000,
                    MaxMissionStartsPerMinute = 100_000,
                    ApprovalTimeoutMinutes = 30,
                    QuarantineDirectory = _folder.Combine("quarantine"),
                },
                // The recording service's witness contract holds before the action: these tests are about exclusion and recovery.
                ["Autonomy"] = new { VacuousContract = "Act" },
                // Each instance's /metrics is read as a Prometheus on the private network would.
                ["Telemetry"] = new { Metrics = new { Access = "Anonymous" } },
                ["Targets"] = targets,
                ["Patterns"] = patterns,
                ["Playbooks"] = playbooks,
            },
        };
    }

    private static object Playbook(string target, int tier) => new
    {
        Action = "http.call",
        Target = target,
        Tier = tier,
        CooldownSeconds = 0,
        Parameters = new { Method = "POST", Path = RecordingTarget.PathOf(target, "act"), RollbackMethod = "POST", RollbackPath = RecordingTarget.PathOf(target, "undo") },
        Contract = new { Probe = "http.status", Parameters = new { Path = RecordingTarget.PathOf(target, "ok") }, Comparator = "LessThan", Threshold = 400, DeadlineSeconds = 20 },
    };

    public async Task DisposeAsync()
    {
        foreach (var client in Ingest.Concat(Admins))
        {
            client.Dispose();
        }

        foreach (var instance in Instances)
        {
            await instance.DisposeAsync();
        }

        await Recorder.DisposeAsync();
        await _database.DisposeAsync();
        _folder.Dispose();
    }
}
