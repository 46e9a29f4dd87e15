using Grace.Tests.Infrastructure;

namespace Grace.Tests.Integration;

/// <summary>A broken appsettings.json stops the start with a message naming the key and the fault.</summary>
public sealed class StartupValidationTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    public static TheoryData<string, string, string> Broken => new()
    {
        { "Grace:Playbooks:test-checkpoint:Action", "sqlite.vacuum-everything", "Grace:Playbooks:test-checkpoint:Action: unknown action 'sqlite.vacuum-everything'" },
        { "Grace:Playbooks:test-checkpoint:Contract:Probe", "wal.size", "Grace:Playbooks:test-checkpoint:Contract:Probe: unknown probe 'wal.size'" },
        { "Grace:Playbooks:test-checkpoint:Tier", "7", "Grace:Playbooks:test-checkpoint:Tier must be 0, 1, 2 or 3" },
        { "Grace:Playbooks:test-checkpoint:Target", "nowhere", "Grace:Playbooks:test-checkpoint:Target: target 'nowhere' is not defined" },
        { "Grace:Playbooks:test-checkpoint:Parameters:Mode", "Sideways", "Grace:Playbooks:test-checkpoint:Parameters:Mode 'Sideways' is not a valid value (use one of Passive, Full, Restart, Truncate)" },
        { "Grace:Playbooks:test-checkpoint:Contract:DeadlineSeconds", "0", "Grace:Playbooks:test-checkpoint:Contract:DeadlineSeconds must be between 1 and 86400" },
        { "Grace:Patterns:test-wal:Playbooks:0", "ghost", "Grace:Patterns:test-wal:Playbooks:0: playbook 'ghost' is not defined" },
        { "Grace:Patterns:test-wal:MessageRegex", "([unclosed", "Grace:Patterns:test-wal:MessageRegex is not a valid regular expression" },
        { "Grace:Playbooks:test-clear-cache:Target", "grace-db", "action 'cache.clear' works on Directory targets, and 'grace-db' is Sqlite" },
        { "Grace:Targets:test-cache:Path", "/etc", "Grace:Playbooks:test-clear-cache:Target: Refused: /etc is not under a configured cache root" },
        { "Grace:Engine:ApprovalTimeoutMinutes", "0", "Grace:Engine:ApprovalTimeoutMinutes must be between 1 and 1440" },
        { "Grace:Database:Provider", "Oracle", "Grace:Database:Provider" },
        { "Grace:Playbooks:test-checkpoint:Tier", "high", "Grace:Playbooks:test-checkpoint:Tier" },
        { "Grace:Targets:test-db:HealthCheck:Probe", "wal.size", "Grace:Targets:test-db:HealthCheck:Probe: unknown probe 'wal.size'" },
        { "Grace:Targets:test-cache:HealthCheck:Probe", "sqlite.wal-bytes", "Grace:Targets:test-cache:HealthCheck:Probe: probe 'sqlite.wal-bytes' reads Sqlite targets, and 'test-cache' is Directory" },
        { "Grace:Targets:test-db:HealthCheck:FailureThreshold", "0", "Grace:Targets:test-db:HealthCheck:FailureThreshold must be between 1 and 100" },
        { "Grace:Targets:demo-worker:HealthCheck:Parameters:MaxSilentSeconds", "soon", "Grace:Targets:demo-worker:HealthCheck:Parameters:MaxSilentSeconds 'soon' is not a valid number" },
        { "Grace:Targets:test-db:Benchmarks:0:Kind", "Postgres", "Grace:Targets:test-db:Benchmarks:0:Kind: a Postgres benchmark runs on a Postgres target, and this one is Sqlite" },
        { "Grace:Targets:test-db:Benchmarks:0:Kind", "Oracle", "Grace:Targets:test-db" },
        { "Grace:Targets:demo-postgres:Benchmarks:0:Kind", "Http", "Grace:Targets:demo-postgres:Benchmarks:0:Kind: an Http benchmark (the default Kind) times GET requests to the target's Url" },
        { "Grace:Targets:demo-worker:HealthCheck:Probe", "http.status", "Grace:Targets:demo-worker:HealthCheck:Probe: probe 'http.status' reads the target's Url, and Grace:Targets:demo-worker:Url is not an absolute URL" },
        { "Grace:Playbooks:restart-demo-worker:Parameters:HealthTimeoutSeconds", "120", "Grace:Playbooks:restart-demo-worker:Parameters: a restart may take 130 s" },
        { "Grace:Targets:demo-postgres:Optional", "false", "Grace:Targets:demo-postgres:ConnectionString is required for a Postgres target" },
        { "Grace:Playbooks:test-checkpoint:Parameters:Mod", "Full", "Grace:Playbooks:test-checkpoint:Parameters:Mod is not a parameter here; known: Mode" },
        { "Grace:Targets:test-db:Kind", "Oracle", "Grace:Targets:test-db:Kind 'Oracle' is not a target kind; use one of" },
        { "Grace:Playbooks:test-debug-logging:Parameters:TtlMinutes", "0", "Grace:Playbooks:test-debug-logging:Parameters:TtlMinutes must be a number of minutes between 0 and 1440" },
        { "Grace:Cluster:Mode", "Cluster", "Grace:Cluster:Mode is Cluster, but Grace:Database:Provider is Sqlite" },
        { "Grace:Cluster:SiloPort", "70000", "Grace:Cluster:SiloPort must be between 0 (a free port) and 65535" },
        { "Grace:Cluster:InstanceName", "grace one", "Grace:Cluster:InstanceName 'grace one' must be 1 to 128 letters" },
    };

    [Fact]
    public async Task A_second_grace_on_the_same_sqlite_file_refuses_to_start_and_says_why()
    {
        await using var first = new GraceHost(TestCatalog.Settings(_folder)).Start();
        using var second = new GraceHost(TestCatalog.Settings(_folder));
        var ex = Assert.ThrowsAny<Exception>(() => second.Start());
        Assert.Contains("Another Grace is running on the database", string.Join(" | ", Flatten(ex).Select(e => e.Message)), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Broken))]
    public void A_broken_entry_stops_the_start_with_a_message_naming_the_key(string key, string value, string expected)
    {
        var settings = TestCatalog.Settings(_folder).Where(kv => kv.Key != key).Append(new(key, value));
        using var host = new GraceHost(settings);
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        var messages = string.Join(" | ", Flatten(ex).Select(e => e.Message));
        Assert.Contains(expected, messages, StringComparison.Ordinal);
    }

    private static IEnumerable<Exception> Flatten(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten))
                {
                    yield return inner;
                }
            }
        }
    }
}
