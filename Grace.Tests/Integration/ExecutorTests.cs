using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Adapters.Logging;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;
using Serilog.Events;

namespace Grace.Tests.Integration;

/// <summary>Each executor against its real counterpart: a directory, a SQLite file, Grace's own log levels.</summary>
public sealed class ExecutorTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private CacheDirectoryExecutor CacheExecutor()
    {
        var options = new FixedOptionsMonitor<EngineOptions>(new EngineOptions { CacheRoots = [_folder.Combine("roots")], QuarantineDirectory = _folder.Combine("quarantine") });
        var paths = new PathResolver(new TestHostEnvironment(_folder.Path));
        return new CacheDirectoryExecutor(options, paths, new CacheRoots(options, paths));
    }

    [Fact]
    public async Task A_cache_folder_outside_the_roots_is_refused_and_nothing_is_deleted()
    {
        var outside = _folder.Combine("precious");
        TestCatalog.FillCache(outside, files: 4);
        // A sibling whose name starts like the root must not pass a naive prefix check.
        var lookalike = _folder.Combine("roots-evil");
        TestCatalog.FillCache(lookalike, files: 2);
        var executor = CacheExecutor();

        foreach (var path in new[] { outside, lookalike, "/" })
        {
            var request = new ActionRequest(Guid.NewGuid(), TestTargets.Directory("t", path), new Dictionary<string, string>());
            var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => executor.SnapshotAsync(request, default));
            Assert.Contains("not under a configured cache root", refused.Message);
            var snapshot = new SnapshotState("{}", "", "");
            await Assert.ThrowsAsync<ActionRefusedException>(() => executor.ExecuteAsync(request, snapshot, default));
        }

        Assert.Equal(4, Directory.EnumerateFiles(outside, "*", SearchOption.AllDirectories).Count());
        Assert.Equal(2, Directory.EnumerateFiles(lookalike, "*", SearchOption.AllDirectories).Count());
        Assert.False(Directory.Exists(_folder.Combine("quarantine")));
    }

    [Fact]
    public async Task A_symbolic_link_under_a_root_is_refused()
    {
        var outside = _folder.Combine("precious");
        TestCatalog.FillCache(outside, files: 3);
        Directory.CreateDirectory(_folder.Combine("roots"));
        var link = _folder.Combine("roots", "link");
        Directory.CreateSymbolicLink(link, outside);
        var request = new ActionRequest(Guid.NewGuid(), TestTargets.Directory("t", link), new Dictionary<string, string>());

        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => CacheExecutor().SnapshotAsync(request, default));
        Assert.Contains("symbolic link", refused.Message);
        Assert.Equal(3, Directory.EnumerateFiles(outside, "*", SearchOption.AllDirectories).Count());
    }

    [Fact]
    public async Task A_symbolic_link_higher_up_the_path_is_refused()
    {
        var outside = _folder.Combine("home");
        TestCatalog.FillCache(Path.Combine(outside, "http"), files: 3);
        Directory.CreateDirectory(_folder.Combine("roots"));
        Directory.CreateSymbolicLink(_folder.Combine("roots", "tenant"), outside);
        var target = _folder.Combine("roots", "tenant", "http");
        var request = new ActionRequest(Guid.NewGuid(), TestTargets.Directory("t", target), new Dictionary<string, string>());

        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => CacheExecutor().SnapshotAsync(request, default));
        Assert.Contains("symbolic link", refused.Message);
        Assert.Equal(3, Directory.EnumerateFiles(Path.Combine(outside, "http"), "*", SearchOption.AllDirectories).Count());
    }

    [Fact]
    public async Task Clearing_a_cache_quarantines_its_entries_and_rollback_restores_them()
    {
        var cache = _folder.Combine("roots", "thumbs");
        TestCatalog.FillCache(cache, files: 6, bytes: 1000);
        var executor = CacheExecutor();
        var request = new ActionRequest(Guid.NewGuid(), TestTargets.Directory("t", cache), new Dictionary<string, string>());
        var probe = new DirectoryBytesProbe();
        var probeRequest = new ProbeRequest(request.Target, new Dictionary<string, string>(), null);

        Assert.Equal(6000, await probe.ReadAsync(probeRequest, default));
        var snapshot = await executor.SnapshotAsync(request, default);
        var result = await executor.ExecuteAsync(request, snapshot, default);
        Assert.Contains("Moved 4 entries", result.Message); // 3 files at the top and the nested folder
        Assert.Equal(0, await probe.ReadAsync(probeRequest, default));

        var restored = await executor.RollbackAsync(request, snapshot, default);
        Assert.Contains("Restored 4 entries", restored);
        Assert.Equal(6000, await probe.ReadAsync(probeRequest, default));
        Assert.Equal(6, Directory.EnumerateFiles(cache, "*", SearchOption.AllDirectories).Count());
    }

    [Fact]
    public async Task A_checkpoint_truncates_a_real_wal_and_never_creates_a_missing_database()
    {
        var path = _folder.Combine("app.db");
        using var holder = TestCatalog.GrowWal(path);
        var executor = new SqliteCheckpointExecutor();
        var target = TestTargets.Sqlite("db", path);
        var request = new ActionRequest(Guid.NewGuid(), target, new Dictionary<string, string> { ["Mode"] = "Truncate" });
        var probe = new SqliteWalBytesProbe();
        var probeRequest = new ProbeRequest(target, new Dictionary<string, string>(), null);

        Assert.True(await probe.ReadAsync(probeRequest, default) > 100_000);
        var snapshot = await executor.SnapshotAsync(request, default);
        Assert.Contains("in journal mode wal", snapshot.ApprovedAgainst, StringComparison.Ordinal);
        var result = await executor.ExecuteAsync(request, snapshot, default);
        Assert.Contains("→ 0 B.", result.Message);
        Assert.Equal(0, await probe.ReadAsync(probeRequest, default));

        var missing = request with { Target = TestTargets.Sqlite("db", _folder.Combine("nope.db")) };
        await Assert.ThrowsAsync<ActionRefusedException>(() => executor.SnapshotAsync(missing, default));
        Assert.False(File.Exists(_folder.Combine("nope.db")));
    }

    [Fact]
    public async Task Logging_level_changes_for_real_reverts_after_its_ttl_and_rolls_back()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Serilog:MinimumLevel:Default"] = "Information",
            ["Serilog:MinimumLevel:Override:Microsoft"] = "Warning",
        }).Build();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var levels = new LogLevelController(config, time);
        using var logger = levels.Apply(new Serilog.LoggerConfiguration()).CreateLogger();
        var grace = logger.ForContext(Serilog.Core.Constants.SourceContextPropertyName, "Grace.Engine.Capture");
        var executor = new SetLevelAction(levels);
        var request = new ActionRequest(Guid.NewGuid(), TestTargets.Grace("grace"),
            new Dictionary<string, string> { ["Source"] = "Grace", ["Level"] = "Debug", ["TtlMinutes"] = "15" });

        Assert.False(grace.IsEnabled(LogEventLevel.Debug));
        var snapshot = await executor.SnapshotAsync(request, default);
        await executor.ExecuteAsync(request, snapshot, default);
        Assert.True(grace.IsEnabled(LogEventLevel.Debug));
        Assert.Equal(LogEventLevel.Warning, levels.GetLevel("Microsoft"));

        time.Advance(TimeSpan.FromMinutes(14));
        Assert.Equal(LogEventLevel.Debug, levels.GetLevel("Grace"));
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(LogEventLevel.Information, levels.GetLevel("Grace"));
        Assert.False(grace.IsEnabled(LogEventLevel.Debug));

        await executor.ExecuteAsync(request, snapshot, default);
        await executor.RollbackAsync(request, snapshot, default);
        Assert.Equal(LogEventLevel.Information, levels.GetLevel("Grace"));
        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(LogEventLevel.Information, levels.GetLevel("Grace"));

        Assert.Contains(executor.ValidateParameters(new Dictionary<string, string> { ["Source"] = "Grace", ["Level"] = "Loud" }),
            e => e.StartsWith("Parameters:Level 'Loud' is not a valid value", StringComparison.Ordinal));
        Assert.Contains(executor.ValidateParameters(new Dictionary<string, string> { ["Source"] = "Nope", ["Level"] = "Debug" }),
            e => e.StartsWith("Parameters:Source", StringComparison.Ordinal));
    }
}
