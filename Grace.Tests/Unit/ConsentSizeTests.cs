using Grace.Engine.Adapters.Directories;
using Grace.Engine.Adapters.Sqlite;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
using Grace.Engine.Targets;
using Grace.Tests.Infrastructure;

namespace Grace.Tests.Unit;

/// <summary>
/// What approvers read about a size (the basis of their consent, the snapshot, the action's result)
/// is worded by <see cref="HumanFormat"/>, the one formatter (ADR 0020): the approval card, the
/// timeline and the charts never show one size two ways.
/// </summary>
public sealed class ConsentSizeTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static ActionRequest Request(ResolvedTarget target) => new(Guid.NewGuid(), target, new Dictionary<string, string>());

    // Through the interface, as the engine calls them.
    private static IRemediationExecutor AsEngineSees(IRemediationExecutor executor) => executor;

    [Fact]
    public async Task A_cache_snapshot_words_its_size_and_counts_as_HumanFormat_does()
    {
        var options = new FixedOptionsMonitor<EngineOptions>(new EngineOptions { CacheRoots = [_folder.Combine("roots")], QuarantineDirectory = _folder.Combine("quarantine") });
        var paths = new PathResolver(new TestHostEnvironment(_folder.Path));
        var executor = AsEngineSees(new CacheDirectoryExecutor(options, paths, new CacheRoots(options, paths)));
        var cache = _folder.Combine("roots", "one");
        Directory.CreateDirectory(cache);
        // 82,000 bytes: 80.08 KiB, which the old private formatter wrote "80.1 KiB" and HumanFormat writes "80 KiB".
        await File.WriteAllBytesAsync(Path.Combine(cache, "a.bin"), new byte[82_000]);

        var snapshot = await executor.SnapshotAsync(Request(TestTargets.Directory("one", cache)), default);

        Assert.Equal($"1 file, {HumanFormat.Bytes(82_000)}", snapshot.ApprovedAgainst);
        Assert.Equal("1 file, 80 KiB", snapshot.ApprovedAgainst);
        Assert.EndsWith($"1 entry, {HumanFormat.Bytes(82_000)}.", snapshot.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_vacuum_and_a_checkpoint_word_their_sizes_as_HumanFormat_does()
    {
        var path = _folder.Combine("app.db");
        using (TestCatalog.GrowWal(path, rows: 50))
        {
            var bytes = new FileInfo(path).Length;
            var vacuum = AsEngineSees(new SqliteVacuumExecutor());
            var approved = await vacuum.SnapshotAsync(Request(TestTargets.Sqlite("db", path)), default);
            Assert.StartsWith($"app.db, {HumanFormat.Bytes(bytes)} (a rebuild of at most ", approved.ApprovedAgainst, StringComparison.Ordinal);
            Assert.Equal($"app.db: {HumanFormat.Bytes(bytes)}.", approved.Summary);

            var wal = SqliteCheckpointExecutor.WalBytes(path);
            var checkpoint = AsEngineSees(new SqliteCheckpointExecutor());
            var mode = await checkpoint.SnapshotAsync(Request(TestTargets.Sqlite("db", path)), default);
            Assert.Equal($"app.db in journal mode wal (WAL {HumanFormat.Bytes(wal)})", mode.ApprovedAgainst);
            Assert.DoesNotContain("bytes", mode.Summary, StringComparison.Ordinal);
        }
    }
}
