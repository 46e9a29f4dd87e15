using Polly;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Grace.Tests.Infrastructure;

/// <summary>Options that never change, for constructing one engine part alone.</summary>
public sealed class FixedOptionsMonitor<T>(T value) : IOptionsMonitor<T>
{
    public T CurrentValue => value;
    public T Get(string? name) => value;
    public IDisposable? OnChange(Action<T, string?> listener) => null;
}

/// <summary>A host environment whose content root is a test's folder.</summary>
public sealed class TestHostEnvironment(string root) : IHostEnvironment
{
    public string EnvironmentName { get; set; } = "Testing";
    public string ApplicationName { get; set; } = "Grace.Tests";
    public string ContentRootPath { get; set; } = root;
    public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
}


/// <summary>
/// The real clock moved forward on demand. A frozen fake clock cannot serve a whole host: Orleans
/// measures its own timers and heartbeats with the host's <see cref="TimeProvider"/>.
/// </summary>
public sealed class ShiftedTimeProvider : TimeProvider
{
    private long _offsetTicks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));
}

/// <summary>Records the missions the engine was asked to look at, for tests that run without a silo.</summary>
public sealed class RecordingMissionScheduler : Grace.Engine.Gate.IMissionScheduler
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<Guid> _missions = new();

    public IReadOnlyCollection<Guid> Missions => _missions;

    public void Enqueue(Guid missionId) => _missions.Enqueue(missionId);
}

/// <summary>Targets as their kinds resolve them, for tests that drive one action or probe alone.</summary>
public static class TestTargets
{
    private static Grace.Engine.Targets.ResolvedTarget Of(string key, Grace.Engine.Configuration.TargetKind kind, object settings) =>
        new(key, kind, null, new Grace.Engine.Configuration.TargetOptions { Kind = kind }, settings);

    public static Grace.Engine.Targets.ResolvedTarget Sqlite(string key, string path) => Of(key, SqliteKind.Id, new SqliteTarget(path));

    public static Grace.Engine.Targets.ResolvedTarget Directory(string key, string path) => Of(key, DirectoryKind.Id, new DirectoryTarget(path));

    public static Grace.Engine.Targets.ResolvedTarget Http(string key, string url) => Of(key, HttpKind.Id, new HttpTarget(new Uri(url)));

    public static Grace.Engine.Targets.ResolvedTarget Postgres(string key, string connectionString) => Of(key, PostgresKind.Id, new PostgresTarget(connectionString));

    public static Grace.Engine.Targets.ResolvedTarget SqlServer(string key, string connectionString) => Of(key, SqlServerKind.Id, new SqlServerTarget(connectionString));

    public static Grace.Engine.Targets.ResolvedTarget Grace(string key) => Of(key, GraceKind.Id, new GraceTarget());
}

/// <summary>The benchmark samplers every module ships, as the host registers them.</summary>
/// <summary>Grace's action pipelines with no targets configured, for tests of the breakers alone.</summary>
public static class TestResilience
{
    public static ServiceProvider Services()
    {
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        services.AddResiliencePipeline("unused", b => b.AddTimeout(TimeSpan.FromSeconds(1)));
        services.AddSingleton<IOptionsMonitor<Grace.Engine.Configuration.EngineOptions>>(new FixedOptionsMonitor<Grace.Engine.Configuration.EngineOptions>(new()));
        services.AddSingleton<IOptionsMonitor<Grace.Engine.Configuration.CatalogOptions>>(new FixedOptionsMonitor<Grace.Engine.Configuration.CatalogOptions>(new()));
        services.AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        services.AddSingleton<Grace.Engine.Targets.TargetKinds>();
        services.AddSingleton<Grace.Engine.Targets.TargetRegistry>();
        services.AddSingleton<Grace.Engine.Execute.TargetBreakers>();
        services.AddSingleton<Grace.Engine.Execute.ActionResilience>();
        return services.BuildServiceProvider();
    }
}

public static class TestSamplers
{
    private static readonly IHttpClientFactory Http = new PlainHttpClientFactory();

    public static Grace.Engine.Verify.Benchmarks.LatencySampler All() =>
        new([new HttpBenchmark(Http), new SqliteBenchmark(), new PostgresBenchmark(), new SqlServerBenchmark()]);

    private sealed class PlainHttpClientFactory : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => new() { Timeout = TimeSpan.FromSeconds(10) };
    }
}
