using System.Diagnostics;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Adapters.Directories;
using Grace.Engine.Adapters.Http;
using Grace.Engine.Adapters.Processes;
using Grace.Engine.Adapters.Sqlite;
using Grace.Engine.Faults;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Grace.Benchmarks;

/// <summary>
/// How long the shipped demo takes to heal each fault: from the injection to the mission (noticed),
/// and from the mission (or, at tier 2, from the approval) to the verified contract. The shipped
/// catalog as it is (health-check intervals, tiers, contracts), with cooldowns at 0 so a fault can
/// be repeated, on real local targets in a temporary folder.
/// </summary>
internal sealed class FaultDriver(TextWriter output, int runs)
{
    private static readonly (FaultKind Kind, string Target, int Megabytes, string Playbook)[] Cases =
    [
        (WalGrowthFault.Kind, "demo-orders-db", 6, "checkpoint-demo-db"),
        (CacheFillFault.Kind, "grace-cache", 60, "clear-grace-cache"),
        (ProcessCrashFault.Kind, "demo-worker", 1, "restart-demo-worker"),
        (ProcessHangFault.Kind, "demo-worker", 1, "restart-demo-worker"),
        (HealthEndpointFault.Kind, "demo-orders-api", 1, "reset-demo-api-pool"),
    ];

    private static readonly Actor Admin = new("admin", [GraceRoles.Admin]);
    private static readonly Actor Operator = new("olivia", [GraceRoles.Operator]);

    public async Task RunAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), "grace-faults", Guid.NewGuid().ToString("N"));
        await using var host = new BenchmarkHost(new Dictionary<string, string?>
        {
            ["Grace:Faults:Enabled"] = "true",
            // Storm control would hold back the fourth mission for one fingerprint within an hour.
            ["Grace:Engine:MaxMissionStartsPerFingerprintPerHour"] = "100",
            // A port of its own: a Grace started from the README may hold the shipped 5133.
            ["Grace:Targets:demo-orders-api:Url"] = $"http://127.0.0.1:{FreePort()}/",
            ["Grace:Engine:CacheRoots:1"] = Path.Combine(folder, "cache"),
            ["Grace:Targets:grace-cache:Path"] = Path.Combine(folder, "cache", "grace"),
            ["Grace:Targets:demo-orders-db:Path"] = Path.Combine(folder, "demo", "orders.db"),
            ["Grace:Playbooks:checkpoint-demo-db:CooldownSeconds"] = "0",
            ["Grace:Playbooks:clear-grace-cache:CooldownSeconds"] = "0",
            ["Grace:Playbooks:restart-demo-worker:CooldownSeconds"] = "0",
            ["Grace:Playbooks:reset-demo-api-pool:CooldownSeconds"] = "0",
        });
        var injector = host.Services.GetRequiredService<FaultInjector>();
        var approvals = host.Services.GetRequiredService<ApprovalService>();
        var factory = host.Services.GetRequiredService<IDbContextFactory<GraceDbContext>>();
        var rows = new List<string>();
        foreach (var (kind, target, megabytes, playbook) in Cases)
        {
            var noticed = new List<double>();
            var healed = new List<double>();
            var succeeded = 0;
            for (var run = 0; run < runs; run++)
            {
                await WaitQuietAsync(factory, target);
                var injectedAt = DateTimeOffset.UtcNow;
                await injector.InjectAsync(kind, target, megabytes, Admin, default);
                var mission = await WaitMissionAsync(factory, playbook, injectedAt, _ => true);
                noticed.Add((mission.CreatedAt - injectedAt).TotalSeconds);
                var actingFrom = mission.CreatedAt;
                if (mission.Tier >= 2)
                {
                    // The time a person takes to approve is theirs, not Grace's: healing is timed from the approval.
                    await WaitMissionAsync(factory, playbook, injectedAt, m => m.State == MissionState.AwaitingApproval);
                    actingFrom = DateTimeOffset.UtcNow;
                    await approvals.DecideAsync(mission.Id, Operator, ApprovalVerdict.Approve, null, default);
                }

                var done = await WaitMissionAsync(factory, playbook, injectedAt, m => m.CompletedAt != null);
                healed.Add((done.CompletedAt!.Value - actingFrom).TotalSeconds);
                succeeded += done.State == MissionState.Succeeded ? 1 : 0;
                output.WriteLine($"{kind} on {target}, run {run + 1}: noticed after {noticed[^1]:0.0} s, {done.State} {healed[^1]:0.0} s later");
            }

            rows.Add($"| {kind} on `{target}` ({playbook}) | {Median(noticed):0.0} s (max {noticed.Max():0.0}) | {Median(healed):0.0} s (max {healed.Max():0.0}) | {succeeded} of {runs} |");
        }

        await host.DisposeAsync();
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }

        output.WriteLine();
        output.WriteLine("| Fault | Injected → mission | Mission (or approval) → verified | Succeeded |");
        output.WriteLine("|---|---:|---:|---:|");
        foreach (var row in rows)
        {
            output.WriteLine(row);
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>Waits until the target has no open incident and no mission under way, so the next fault starts a mission of its own.</summary>
    private static async Task WaitQuietAsync(IDbContextFactory<GraceDbContext> factory, string target)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            await using var db = await factory.CreateDbContextAsync();
            var busy = await db.Incidents.AnyAsync(i => i.Target == target && i.Status != IncidentStatus.Resolved)
                || await db.Missions.AnyAsync(m => m.Target == target && m.CompletedAt == null);
            if (!busy)
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"'{target}' did not settle within 2 minutes.");
    }

    private static async Task<Mission> WaitMissionAsync(IDbContextFactory<GraceDbContext> factory, string playbook, DateTimeOffset since, Func<Mission, bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(3))
        {
            await using var db = await factory.CreateDbContextAsync();
            var missions = await db.Missions.AsNoTracking().Where(m => m.PlaybookKey == playbook).ToListAsync();
            if (missions.Where(m => m.CreatedAt >= since).OrderBy(m => m.CreatedAt).FirstOrDefault() is { } mission && condition(mission))
            {
                return mission;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"No mission of '{playbook}' reached the expected state within 3 minutes.");
    }
}
