using System.Net;
using System.Net.Http.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Execute;
using Grace.Engine.Faults;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;

namespace Grace.Tests.Integration;

/// <summary>The demo: a real fault injected into a real local target becomes a verified mission, with the shipped catalog.</summary>
public sealed class FaultInjectionTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite, _folder);

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        _folder.Dispose();
    }

    private GraceHost Host(bool enabled) => new GraceHost(TestCatalog.Settings(_folder).Concat(_database.Settings()).Concat(new Dictionary<string, string?>
    {
        ["Grace:Faults:Enabled"] = enabled ? "true" : "false",
        ["Grace:Targets:demo-orders-db:Path"] = _folder.Combine("demo", "orders.db"),
        ["Grace:Targets:demo-orders-db:HealthCheck:IntervalSeconds"] = "1",
    })).Start();

    [Fact]
    public async Task A_grown_wal_is_noticed_by_its_health_check_and_healed_by_the_shipped_playbook()
    {
        await using var host = Host(enabled: true);
        var result = await host.Get<FaultInjector>().InjectAsync(FaultKind.SqliteWalGrowth, "demo-orders-db", 6, new Actor("admin", [GraceRoles.Admin]), default);
        Assert.Contains("grown to", result);
        Assert.True(SqliteCheckpointExecutor.WalBytes(_folder.Combine("demo", "orders.db")) >= 6 * 1024 * 1024);

        var mission = await host.WaitForMissionAsync(m => m.PlaybookKey == "checkpoint-demo-db" && m.CompletedAt != null, "finished", 60);
        Assert.Equal(MissionState.Succeeded, mission.State);
        Assert.Equal(0, SqliteCheckpointExecutor.WalBytes(_folder.Combine("demo", "orders.db")));
        await using var db = host.CreateDb();
        Assert.Contains(db.AuditEntries.ToList(), a => a.Action == "fault.inject" && a.Actor == "admin");
    }

    [Fact]
    public async Task Only_admins_inject_and_only_when_enabled()
    {
        await using (var off = Host(enabled: false))
        {
            using var admin = off.ClientWithCookie(await off.SignInAsync("admin", TestCatalog.AdminPassword));
            var refused = await admin.PostAsJsonAsync("/api/faults", new { kind = "CacheFill", target = "grace-cache", megabytes = 1 });
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        }

        await using var on = Host(enabled: true);
        var lead = await Assert.ThrowsAsync<MissionOperationException>(() =>
            on.Get<FaultInjector>().InjectAsync(FaultKind.CacheFill, "grace-cache", 1, new Actor("lena", [GraceRoles.Lead]), default));
        Assert.True(lead.Forbidden);
        var wrongKind = await Assert.ThrowsAsync<MissionOperationException>(() =>
            on.Get<FaultInjector>().InjectAsync(FaultKind.CacheFill, "demo-orders-db", 1, new Actor("ada", [GraceRoles.Admin]), default));
        Assert.Contains("does not apply", wrongKind.Message);
    }
}
