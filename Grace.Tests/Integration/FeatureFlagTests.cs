using Grace.Data;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Grace.Tests.Infrastructure;
using Microsoft.FeatureManagement;

namespace Grace.Tests.Integration;

/// <summary>Feature flags held by Microsoft.FeatureManagement, overridden in Grace's database: the change survives a restart and rolls back.</summary>
public sealed class FeatureFlagTests : SqliteDatabaseTest
{
    private GraceHost Host() => new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings()).Concat(new Dictionary<string, string?>
    {
        ["FeatureManagement:NewCheckout"] = "true",
        ["FeatureManagement:Recommendations"] = "false",
    })).Start();

    [Fact]
    public async Task A_flag_turned_off_stays_off_after_a_restart_and_the_rollback_restores_it()
    {
        var request = new ActionRequest(Guid.NewGuid(), TestTargets.Grace("grace"),
            new Dictionary<string, string> { ["Flag"] = "NewCheckout", ["Enabled"] = "false" });
        SnapshotState snapshot;
        await using (var first = Host())
        {
            var features = first.Get<IFeatureManager>();
            Assert.True(await features.IsEnabledAsync("NewCheckout"));
            var executor = new SetFlagAction(first.Get<FeatureFlagOverrides>(), features);
            snapshot = await executor.SnapshotAsync(request, default);
            Assert.Contains("on (from configuration)", snapshot.Summary);
            var result = await executor.ExecuteAsync(request, snapshot, default);
            Assert.Contains("now off", result.Message);
            Assert.Equal(0, await new FlagEnabledProbe(features).ReadAsync(new ProbeRequest(request.Target, new Dictionary<string, string> { ["Flag"] = "NewCheckout" }, null), default));
        }

        await using var second = Host();
        var after = second.Get<IFeatureManager>();
        Assert.False(await after.IsEnabledAsync("NewCheckout"));
        Assert.False(await after.IsEnabledAsync("Recommendations"));
        var again = new SetFlagAction(second.Get<FeatureFlagOverrides>(), after);
        var restored = await again.RollbackAsync(request, snapshot, default);
        Assert.Contains("configured value", restored);
        Assert.True(await after.IsEnabledAsync("NewCheckout"));
    }
}
