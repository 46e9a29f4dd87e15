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
        { "Grace:Engine:CaptureIncidentsPerCommit", "0", "Grace:Engine:CaptureIncidentsPerCommit must be between 1 and 100000" },
        { "Grace:Ingestion:ApiKeyHeader", "X Api Key", "Grace:Ingestion:ApiKeyHeader must be a header name" },
        { "Grace:Otlp:MinimumSeverityNumber", "30", "Grace:Otlp:MinimumSeverityNumber must be between 1 (TRACE) and 24 (FATAL4)" },
        { "Grace:Otlp:MaxDecompressedBytes", "10", "Grace:Otlp:MaxDecompressedBytes must be between 1024" },
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

    /// <summary>Targets of the cloud and flag-service kinds, well configured, that <see cref="BrokenCloud"/> breaks one entry of (a null value removes it).</summary>
    private static Dictionary<string, string?> Cloud => new()
    {
        ["Grace:Targets:cloud-web:Kind"] = "Ec2Instance",
        ["Grace:Targets:cloud-web:Region"] = "eu-west-1",
        ["Grace:Targets:cloud-web:InstanceId"] = "i-0123456789abcdef0",
        ["Grace:Targets:cloud-fleet:Kind"] = "AutoScalingGroup",
        ["Grace:Targets:cloud-fleet:Region"] = "eu-west-1",
        ["Grace:Targets:cloud-fleet:GroupName"] = "orders",
        ["Grace:Playbooks:cloud-scale-out:Action"] = "aws.autoscaling.set-desired-capacity",
        ["Grace:Playbooks:cloud-scale-out:Target"] = "cloud-fleet",
        ["Grace:Playbooks:cloud-scale-out:Parameters:DesiredCapacity"] = "3",
        ["Grace:Playbooks:cloud-scale-out:Contract:Probe"] = "aws.autoscaling.in-service",
        ["Grace:Playbooks:cloud-scale-out:Contract:Comparator"] = "GreaterThanOrEqual",
        ["Grace:Playbooks:cloud-scale-out:Contract:Threshold"] = "3",
        ["Grace:Targets:cloud-flags:Kind"] = "Unleash",
        ["Grace:Targets:cloud-flags:Url"] = "http://127.0.0.1:4242/",
        ["Grace:Targets:cloud-flags:AdminToken"] = "*:*.admin-token-for-startup-tests",
        ["Grace:Targets:cloud-flags:ClientToken"] = "*:production.client-token-for-startup-tests",
        ["Grace:Targets:cloud-flags:Environment"] = "production",
        ["Grace:Playbooks:cloud-kill-switch:Action"] = "unleash.set-flag",
        ["Grace:Playbooks:cloud-kill-switch:Target"] = "cloud-flags",
        ["Grace:Playbooks:cloud-kill-switch:Parameters:Flag"] = "new-checkout",
        ["Grace:Playbooks:cloud-kill-switch:Parameters:Enabled"] = "false",
        ["Grace:Playbooks:cloud-kill-switch:Contract:Probe"] = "unleash.flag-enabled",
        ["Grace:Playbooks:cloud-kill-switch:Contract:Parameters:Flag"] = "new-checkout",
        ["Grace:Playbooks:cloud-kill-switch:Contract:Comparator"] = "Equal",
        ["Grace:Playbooks:cloud-kill-switch:Contract:Threshold"] = "0",
    };

    public static TheoryData<string, string?, string> BrokenCloud => new()
    {
        { "Grace:Targets:cloud-fleet:Region", null, "Grace:Targets:cloud-fleet:Region is required for an AutoScalingGroup target" },
        { "Grace:Targets:cloud-web:Region", "Ireland", "Grace:Targets:cloud-web:Region 'Ireland' is not an AWS region name (such as us-east-1)" },
        { "Grace:Targets:cloud-web:InstanceId", "web-1", "Grace:Targets:cloud-web:InstanceId 'web-1' is not an EC2 instance id" },
        { "Grace:Targets:cloud-web:Endpoint", "localhost:4566", "Grace:Targets:cloud-web:Endpoint 'localhost:4566' is not an absolute http or https URL" },
        { "Grace:Targets:cloud-web:Profile", "grace-no-such-profile", "Grace:Targets:cloud-web:Profile 'grace-no-such-profile' is in neither the shared credentials file nor the shared config file" },
        { "Grace:Playbooks:cloud-scale-out:Parameters:DesiredCapacity", "lots", "Grace:Playbooks:cloud-scale-out:Parameters:DesiredCapacity 'lots' is not a valid whole number" },
        { "Grace:Targets:cloud-web:SecretAccessKey", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "Grace:Targets:cloud-web:SecretAccessKey is set, and Grace never reads AWS credentials from its configuration" },
        { "Grace:Targets:cloud-fleet:AccessKeyId", "AKIAIOSFODNN7EXAMPLE", "Grace:Targets:cloud-fleet:AccessKeyId is set, and Grace never reads AWS credentials from its configuration" },
        { "Grace:Targets:cloud-flags:AdminToken", null, "Grace:Targets:cloud-flags:AdminToken is required for an Unleash target" },
        { "Grace:Targets:cloud-flags:AdminTokenVariable", "GRACE_NO_SUCH_VARIABLE", "Grace:Targets:cloud-flags:AdminTokenVariable: give AdminToken or AdminTokenVariable, not both" },
        { "Grace:Targets:cloud-flags:ClientToken", null, "Grace:Playbooks:cloud-kill-switch:Contract:Probe: probe 'unleash.flag-enabled' reads the flag as SDKs are served it, with a client token: set Grace:Targets:cloud-flags:ClientToken" },
        { "Grace:Targets:cloud-flags:Environment", null, "Grace:Targets:cloud-flags:Environment is required for an Unleash target" },
        { "Grace:Playbooks:cloud-kill-switch:Parameters:Flag", "new checkout", "Grace:Playbooks:cloud-kill-switch:Parameters:Flag 'new checkout' is not an Unleash flag name" },
    };

    [Theory]
    [MemberData(nameof(BrokenCloud))]
    public void A_broken_cloud_or_flag_service_entry_stops_the_start_naming_the_key(string key, string? value, string expected)
    {
        var cloud = Cloud;
        cloud[key] = value;
        var settings = TestCatalog.Settings(_folder).Concat(cloud.Where(kv => kv.Value is not null));
        using var host = new GraceHost(settings);
        var ex = Assert.ThrowsAny<Exception>(() => host.Start());
        var messages = string.Join(" | ", Flatten(ex).Select(e => e.Message));
        Assert.Contains(expected, messages, StringComparison.Ordinal);
        foreach (var token in new[] { Cloud["Grace:Targets:cloud-flags:AdminToken"]!, Cloud["Grace:Targets:cloud-flags:ClientToken"]!, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIAIOSFODNN7EXAMPLE" })
        {
            Assert.DoesNotContain(token, messages, StringComparison.Ordinal);
        }
    }

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
