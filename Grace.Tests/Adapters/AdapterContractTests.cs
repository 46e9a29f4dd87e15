using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Engine.Adapters.Logging;
using Grace.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Grace.Tests.Adapters;

/// <summary>
/// The contract every adapter's action keeps, run against a real counterpart of each: snapshot →
/// execute → the contract's probe sees the effect → rollback restores what it can → commit; an
/// action cancelled before it starts changes nothing; an action that fails says why; a secret of
/// the target never shows in a snapshot, a result, a description or an error.
/// </summary>
public abstract class AdapterContractTests : IAsyncLifetime
{
    protected TempFolder Folder { get; } = new();

    /// <summary>The action under test.</summary>
    protected abstract IRemediationExecutor Action { get; }

    /// <summary>The probe its playbooks name in their contract.</summary>
    protected abstract IProbe Probe { get; }

    protected virtual IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string>();

    protected virtual IReadOnlyDictionary<string, string> ProbeParameters => new Dictionary<string, string>();

    /// <summary>Puts a real target in the state the action heals, and returns it.</summary>
    protected abstract Task<ResolvedTarget> BreakAsync();

    /// <summary>A target of the same kind that cannot be acted on (gone, unreachable).</summary>
    protected abstract ResolvedTarget Unreachable();

    /// <summary>Whether a probe reading shows the effect the action promises.</summary>
    protected abstract bool Healed(double reading);

    /// <summary>False for a target that is always there (Grace's own process).</summary>
    protected virtual bool CanBeUnreachable => true;

    /// <summary>A secret the target's settings hold (a password), which must never show.</summary>
    protected virtual string? Secret => null;

    /// <summary>
    /// How long the probe may lag the action (a flag service serving clients from a cache): the suite
    /// reads until the effect shows or this much time has passed, as a contract's deadline lets it.
    /// </summary>
    protected virtual TimeSpan Propagation => TimeSpan.Zero;

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync()
    {
        Folder.Dispose();
        return Task.CompletedTask;
    }

    private ActionRequest Request(ResolvedTarget target) => new(Guid.NewGuid(), target, Parameters);

    private Task<double> ReadAsync(ResolvedTarget target) => Probe.ReadAsync(new ProbeRequest(target, ProbeParameters, null), default);

    /// <summary>Reads until <paramref name="shows"/> holds or <see cref="Propagation"/> has passed; the last reading.</summary>
    private async Task<double> ReadUntilAsync(ResolvedTarget target, Func<double, bool> shows)
    {
        var until = DateTime.UtcNow + Propagation;
        var reading = await ReadAsync(target);
        while (!shows(reading) && DateTime.UtcNow < until)
        {
            await Task.Delay(200);
            reading = await ReadAsync(target);
        }

        return reading;
    }

    [Fact]
    public async Task Snapshot_execute_verify_then_rollback_restores_and_commit_releases()
    {
        Assert.Empty(Action.ValidateParameters(Parameters));
        Assert.Empty(Probe.ValidateParameters(ProbeParameters));
        var target = await BreakAsync();
        Assert.True(Action.TargetKinds.Accepts(target.Kind) && Probe.TargetKinds.Accepts(target.Kind));
        var before = await ReadAsync(target);
        Assert.False(Healed(before), $"The target was not broken: {Probe.Key} read {before}.");

        var request = Request(target);
        Assert.False(string.IsNullOrWhiteSpace(Action.Describe(request)));
        var snapshot = await Action.SnapshotAsync(request, default);
        Assert.False(string.IsNullOrWhiteSpace(snapshot.DriftKey));
        var again = await Action.SnapshotAsync(request, default);
        Assert.Equal(snapshot.DriftKey, again.DriftKey); // Nothing changed: an approval would hold.
        var result = await Action.ExecuteAsync(request, snapshot, default);
        Assert.False(string.IsNullOrWhiteSpace(result.Message));
        var after = await ReadUntilAsync(target, Healed);
        Assert.True(Healed(after), $"{Action.Action} ran but {Probe.Key} reads {after} (it read {before}).");

        if (Action.CanRollback)
        {
            var restored = await Action.RollbackAsync(request, snapshot, default);
            Assert.False(string.IsNullOrWhiteSpace(restored));
            var back = await ReadUntilAsync(target, r => !Healed(r));
            Assert.False(Healed(back), $"The rollback said '{restored}', but {Probe.Key} still reads {back}.");
        }
        else
        {
            await Assert.ThrowsAsync<NotSupportedException>(() => Action.RollbackAsync(request, snapshot, default));
        }

        await Action.CommitAsync(request, snapshot, default);
    }

    [Fact]
    public async Task An_action_cancelled_before_it_starts_changes_nothing()
    {
        var target = await BreakAsync();
        var request = Request(target);
        var snapshot = await Action.SnapshotAsync(request, default);
        var before = await ReadAsync(target);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Action.ExecuteAsync(request, snapshot, cancelled.Token));
        Assert.Equal(before, await ReadAsync(target));
    }

    [Fact]
    public async Task An_action_on_a_target_it_cannot_reach_fails_saying_why_and_shows_no_secret()
    {
        if (!CanBeUnreachable)
        {
            return;
        }

        var target = Unreachable();
        var request = Request(target);
        var failure = await Record.ExceptionAsync(async () =>
        {
            var snapshot = await Action.SnapshotAsync(request, default);
            await Action.ExecuteAsync(request, snapshot, default);
        });
        Assert.NotNull(failure);
        Assert.False(string.IsNullOrWhiteSpace(failure.Message));
        if (Secret is { } secret)
        {
            Assert.DoesNotContain(secret, failure.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_secret_of_the_target_never_shows_in_a_snapshot_a_result_or_a_description()
    {
        if (Secret is not { } secret)
        {
            return; // This kind holds no secret.
        }

        var target = await BreakAsync();
        var request = Request(target);
        var snapshot = await Action.SnapshotAsync(request, default);
        var result = await Action.ExecuteAsync(request, snapshot, default);
        foreach (var text in new[] { Action.Describe(request), snapshot.State, snapshot.Summary, snapshot.DriftKey, snapshot.ApprovedAgainst ?? "", result.Message, result.Data ?? "", target.ToString(), target.KindSettings?.ToString() ?? "" })
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }
    }
}

/// <summary><c>sqlite.wal-checkpoint</c> on a real SQLite file whose WAL has grown.</summary>
public sealed class SqliteCheckpointContract : AdapterContractTests
{
    private SqliteConnection? _holder;

    protected override IRemediationExecutor Action { get; } = new SqliteCheckpointExecutor();
    protected override IProbe Probe { get; } = new SqliteWalBytesProbe();
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["Mode"] = "Truncate" };

    protected override Task<ResolvedTarget> BreakAsync()
    {
        var path = Folder.Combine("app.db");
        _holder = TestCatalog.GrowWal(path);
        return Task.FromResult(TestTargets.Sqlite("app-db", path));
    }

    protected override ResolvedTarget Unreachable() => TestTargets.Sqlite("app-db", Folder.Combine("missing.db"));

    protected override bool Healed(double reading) => reading == 0;

    public override Task DisposeAsync()
    {
        _holder?.Dispose();
        SqliteConnection.ClearAllPools();
        return base.DisposeAsync();
    }
}

/// <summary><c>cache.clear</c> on a real folder under a cache root: quarantined, restored, released.</summary>
public sealed class CacheClearContract : AdapterContractTests
{
    private readonly Lazy<CacheDirectoryExecutor> _action;

    public CacheClearContract()
    {
        _action = new(() =>
        {
            var options = new FixedOptionsMonitor<EngineOptions>(new EngineOptions { CacheRoots = [Folder.Combine("roots")], QuarantineDirectory = Folder.Combine("quarantine") });
            var paths = new PathResolver(new TestHostEnvironment(Folder.Path));
            return new CacheDirectoryExecutor(options, paths, new CacheRoots(options, paths));
        });
    }

    protected override IRemediationExecutor Action => _action.Value;
    protected override IProbe Probe { get; } = new DirectoryBytesProbe();

    protected override Task<ResolvedTarget> BreakAsync()
    {
        var cache = Folder.Combine("roots", "thumbnails");
        TestCatalog.FillCache(cache, files: 6);
        return Task.FromResult(TestTargets.Directory("thumbnails", cache));
    }

    protected override ResolvedTarget Unreachable() => TestTargets.Directory("thumbnails", Folder.Combine("roots", "gone"));

    protected override bool Healed(double reading) => reading == 0;
}

/// <summary><c>logging.set-level</c> on Grace's own level switches.</summary>
public sealed class LogLevelContract : AdapterContractTests
{
    private static readonly IConfiguration Configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["Serilog:MinimumLevel:Default"] = "Information",
        ["Grace:Logging:ControlledSources:0"] = "Grace.Orders",
    }).Build();

    private readonly LogLevelController _levels = new(Configuration, TimeProvider.System);

    protected override IRemediationExecutor Action => new SetLevelAction(_levels);
    protected override IProbe Probe => new LevelProbe(_levels);
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["Source"] = "Grace.Orders", ["Level"] = "Debug", ["TtlMinutes"] = "5" };
    protected override IReadOnlyDictionary<string, string> ProbeParameters => new Dictionary<string, string> { ["Source"] = "Grace.Orders" };

    protected override Task<ResolvedTarget> BreakAsync() => Task.FromResult(TestTargets.Grace("grace"));

    protected override bool CanBeUnreachable => false;

    protected override ResolvedTarget Unreachable() => throw new InvalidOperationException("Grace's own process is always there.");

    protected override bool Healed(double reading) => reading == (int)Serilog.Events.LogEventLevel.Debug;

    public override Task DisposeAsync()
    {
        _levels.Dispose();
        return base.DisposeAsync();
    }
}

/// <summary><c>http.call</c> on a real HTTP service that records what it was asked, with its undo call.</summary>
public sealed class HttpCallContract : AdapterContractTests
{
    private RecordingTarget _recorder = null!;

    protected override IRemediationExecutor Action { get; } = new HttpCallExecutor(new ContractHttpClients());
    protected override IProbe Probe => new CallsProbe(_recorder);
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string>
    {
        ["Method"] = "Post", ["Path"] = RecordingTarget.PathOf("svc", "act"), ["RollbackPath"] = RecordingTarget.PathOf("svc", "undo"),
    };

    public override async Task InitializeAsync() => _recorder = await RecordingTarget.StartAsync();

    protected override Task<ResolvedTarget> BreakAsync() => Task.FromResult(TestTargets.Http("svc", _recorder.Url));

    protected override ResolvedTarget Unreachable() => TestTargets.Http("svc", $"http://127.0.0.1:{TestCatalog.FreeLoopbackPort()}/");

    // The effect of the call is that it reached the service, and was not undone.
    protected override bool Healed(double reading) => reading > 0;

    public override async Task DisposeAsync()
    {
        await _recorder.DisposeAsync();
        await base.DisposeAsync();
    }

    private sealed class ContractHttpClients : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => new() { Timeout = TimeSpan.FromSeconds(5) };
    }

    /// <summary>Calls that reached the service minus calls undone: what the action's effect is, for this contract.</summary>
    private sealed class CallsProbe(RecordingTarget recorder) : IProbe
    {
        public string Key => "test.calls";
        public string Unit => "calls";
        public IReadOnlySet<TargetKind> TargetKinds => KindSets.AnyKind;

        public Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken) =>
            Task.FromResult((double)(recorder.Actions.Count - recorder.Undos.Count));
    }
}

/// <summary><c>postgres.vacuum-analyze</c> on a real PostgreSQL database with dead rows, whose password must never show.</summary>
public sealed class PostgresVacuumContract : AdapterContractTests
{
    private const string Password = "grace_test";
    private readonly string _name = $"grace_contract_{Guid.NewGuid():N}";
    private string _connectionString = "";

    protected override IRemediationExecutor Action { get; } = new PostgresVacuumAnalyzeExecutor();
    protected override IProbe Probe { get; } = new PostgresDeadTuplesProbe();
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["Table"] = "events" };
    protected override IReadOnlyDictionary<string, string> ProbeParameters => Parameters;
    protected override string Secret => Password;

    public override async Task InitializeAsync()
    {
        await using var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString);
        await admin.OpenAsync();
        await new NpgsqlCommand($"CREATE DATABASE \"{_name}\"", admin).ExecuteNonQueryAsync();
        _connectionString = new NpgsqlConnectionStringBuilder(TestDatabase.PostgresAdminConnectionString) { Database = _name, Pooling = false, Password = Password }.ConnectionString;
    }

    protected override async Task<ResolvedTarget> BreakAsync()
    {
        await using (var setup = new NpgsqlConnection(_connectionString))
        {
            await setup.OpenAsync();
            await new NpgsqlCommand("CREATE TABLE IF NOT EXISTS events(id int) WITH (autovacuum_enabled = false); INSERT INTO events SELECT generate_series(1, 4000); DELETE FROM events;", setup).ExecuteNonQueryAsync();
        }

        var target = TestTargets.Postgres("events-db", _connectionString);
        // The statistics collector reports dead rows with a short delay.
        for (var i = 0; i < 100 && await Probe.ReadAsync(new ProbeRequest(target, ProbeParameters, null), default) == 0; i++)
        {
            await Task.Delay(100);
        }

        return target;
    }

    protected override ResolvedTarget Unreachable() =>
        TestTargets.Postgres("events-db", new NpgsqlConnectionStringBuilder(_connectionString) { Port = TestCatalog.FreeLoopbackPort(), Timeout = 2 }.ConnectionString);

    protected override bool Healed(double reading) => reading == 0;

    public override async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(TestDatabase.PostgresAdminConnectionString);
        await admin.OpenAsync();
        await new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)", admin).ExecuteNonQueryAsync();
        await base.DisposeAsync();
    }
}

/// <summary>
/// The Kubernetes actions against a loopback API server that answers as Kubernetes does and
/// refuses any change not shaped as kubectl sends it; its bearer token must never show.
/// </summary>
public abstract class KubernetesContract : AdapterContractTests
{
    protected Kubernetes.FakeKubernetesApi Cluster { get; private set; } = null!;

    protected Grace.Engine.Adapters.Kubernetes.KubernetesApi Api { get; } = new();

    protected override string Secret => Cluster.Token;

    public override async Task InitializeAsync() => Cluster = await Kubernetes.FakeKubernetesApi.StartAsync();

    protected ResolvedTarget Target(string workload) =>
        Kubernetes.FakeKubernetesApi.Target(Folder, Cluster.WriteKubeconfig(Folder), "orders", new() { ["Workload"] = workload });

    // Nothing listens on the port: the connection is refused, as for an API server that is down.
    protected override ResolvedTarget Unreachable() =>
        Kubernetes.FakeKubernetesApi.Target(Folder, Cluster.WriteKubeconfig(Folder, "unreachable", TestCatalog.FreeLoopbackPort()), "orders", new() { ["Workload"] = "Deployment/orders", ["RequestTimeoutSeconds"] = "2" });

    public override async Task DisposeAsync()
    {
        Assert.True(Cluster.Violations.Count == 0, "Requests not shaped as kubectl sends them:\n" + string.Join("\n", Cluster.Violations));
        Api.Dispose();
        await Cluster.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary><c>kubernetes.rollout-restart</c> on a Deployment whose pods are stuck crash-looping until they are replaced.</summary>
public sealed class KubernetesRolloutRestartContract : KubernetesContract
{
    protected override IRemediationExecutor Action => new Grace.Engine.Adapters.Kubernetes.RolloutRestartAction(Api, TimeProvider.System);
    protected override IProbe Probe => new Grace.Engine.Adapters.Kubernetes.ReadyReplicasProbe(Api);

    protected override Task<ResolvedTarget> BreakAsync()
    {
        Cluster.AddDeployment("orders", 3, "orders:1").Stuck = true;
        Cluster.Update(() => { });
        return Task.FromResult(Target("Deployment/orders"));
    }

    protected override bool Healed(double reading) => reading == 3;
}

/// <summary><c>kubernetes.scale</c> from one replica to three, and back.</summary>
public sealed class KubernetesScaleContract : KubernetesContract
{
    protected override IRemediationExecutor Action => new Grace.Engine.Adapters.Kubernetes.ScaleAction(Api);
    protected override IProbe Probe => new Grace.Engine.Adapters.Kubernetes.AvailableReplicasProbe(Api);
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["Replicas"] = "3" };

    protected override Task<ResolvedTarget> BreakAsync()
    {
        Cluster.AddDeployment("orders", 1, "orders:1");
        return Task.FromResult(Target("Deployment/orders"));
    }

    protected override bool Healed(double reading) => reading >= 3;
}

/// <summary><c>kubernetes.rollout-undo</c> of a Deployment whose newest revision's image crashes.</summary>
public sealed class KubernetesRolloutUndoContract : KubernetesContract
{
    protected override IRemediationExecutor Action => new Grace.Engine.Adapters.Kubernetes.RolloutUndoAction(Api);
    protected override IProbe Probe => new Grace.Engine.Adapters.Kubernetes.ReadyReplicasProbe(Api);

    protected override Task<ResolvedTarget> BreakAsync()
    {
        Cluster.AddDeployment("orders", 3, "orders:1", "orders:broken");
        return Task.FromResult(Target("Deployment/orders"));
    }

    protected override bool Healed(double reading) => reading == 3;
}

/// <summary><c>kubernetes.delete-crashlooping-pods</c> on a Deployment with one poisoned pod, which its controller replaces.</summary>
public sealed class KubernetesDeleteCrashLoopingContract : KubernetesContract
{
    protected override IRemediationExecutor Action => new Grace.Engine.Adapters.Kubernetes.DeleteCrashLoopingPodsAction(Api);
    protected override IProbe Probe => new Grace.Engine.Adapters.Kubernetes.PodsNotRunningProbe(Api);

    protected override Task<ResolvedTarget> BreakAsync()
    {
        Cluster.AddDeployment("orders", 3, "orders:1");
        Cluster.Update(() => Cluster.PoisonedPods.Add(Cluster.Pods.Keys.Order(StringComparer.Ordinal).First()));
        return Task.FromResult(Target("Deployment/orders"));
    }

    protected override bool Healed(double reading) => reading == 0;
}

/// <summary><c>kubernetes.cordon-node</c> of a node, with another left to schedule on; the rollback uncordons it.</summary>
public sealed class KubernetesCordonContract : KubernetesContract
{
    protected override IRemediationExecutor Action => new Grace.Engine.Adapters.Kubernetes.CordonNodeAction(Api);
    protected override IProbe Probe => new Grace.Engine.Adapters.Kubernetes.NodeSchedulableProbe(Api);
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["Node"] = "node-1" };
    protected override IReadOnlyDictionary<string, string> ProbeParameters => Parameters;

    protected override Task<ResolvedTarget> BreakAsync()
    {
        Cluster.AddNode("node-1");
        Cluster.AddNode("node-2");
        return Task.FromResult(Target("Deployment/orders"));
    }

    protected override bool Healed(double reading) => reading == 0;
}

/// <summary><c>kubernetes.uncordon-node</c> of a cordoned node; the rollback cordons it again.</summary>
public sealed class KubernetesUncordonContract : KubernetesContract
{
    protected override IRemediationExecutor Action => new Grace.Engine.Adapters.Kubernetes.UncordonNodeAction(Api);
    protected override IProbe Probe => new Grace.Engine.Adapters.Kubernetes.NodeSchedulableProbe(Api);
    protected override IReadOnlyDictionary<string, string> Parameters => new Dictionary<string, string> { ["Node"] = "node-1" };
    protected override IReadOnlyDictionary<string, string> ProbeParameters => Parameters;

    protected override Task<ResolvedTarget> BreakAsync()
    {
        Cluster.AddNode("node-1", unschedulable: true);
        return Task.FromResult(Target("Deployment/orders"));
    }

    protected override bool Healed(double reading) => reading == 1;
}
