using System.Net;
using System.Net.Http.Json;
using Grace.Data.Entities;
using Grace.Tests.Infrastructure;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Cluster;

/// <summary>
/// The guarantees of a Grace cluster, on three real processes and a real PostgreSQL: one action per
/// target at a time whichever instance approved it, a dead instance's missions finished by the
/// others without running anything twice, one live view from every instance, one health checker
/// per target.
/// </summary>
public sealed class ClusterTests(ClusterFixture cluster) : IClassFixture<ClusterFixture>
{
    /// <summary>Rounds of two missions per target (5 rounds × 20 targets × 2 = 200 missions, within the suite's time budget; the chaos benchmark runs thousands more); GRACE_CLUSTER_ROUNDS changes it.</summary>
    private static int Rounds => int.TryParse(Environment.GetEnvironmentVariable("GRACE_CLUSTER_ROUNDS"), out var r) ? r : 5;

    private Task<HttpResponseMessage> SignalAsync(int instance, string source, string message) =>
        cluster.Ingest[instance].PostAsJsonAsync("api/signals", new { source, message, severity = "Error" });

    [Fact]
    public async Task Missions_approved_through_different_instances_never_act_on_one_target_at_once_nor_twice()
    {
        var rounds = Rounds;
        var round = new int[ClusterFixture.Targets];
        var approved = new HashSet<Guid>();
        var approvals = new List<Task>();
        var next = 0;
        var deadline = DateTime.UtcNow.AddMinutes(8);
        while (true)
        {
            List<(Guid Id, string Target, MissionState State)> missions;
            await using (var db = cluster.Db())
            {
                missions = (await db.Missions.AsNoTracking().Where(m => EF.Functions.Like(m.Target, "t%"))
                    .Select(m => new { m.Id, m.Target, m.State }).ToListAsync())
                    .Select(m => (m.Id, m.Target, m.State)).ToList();
            }

            for (var t = 0; t < ClusterFixture.Targets; t++)
            {
                var name = ClusterFixture.TargetName(t);
                var mine = missions.Where(m => m.Target == name).ToList();
                // The next round starts when both missions of the last one have ended.
                if (round[t] < rounds && mine.Count == 2 * round[t] && mine.All(m => m.State.IsTerminal()))
                {
                    var r = round[t]++;
                    await Task.WhenAll(
                        SignalAsync((t + r) % 3, $"cl-{name}-a-r{r}", $"Round {r} of {name} needs action a"),
                        SignalAsync((t + r + 1) % 3, $"cl-{name}-b-r{r}", $"Round {r} of {name} needs action b"));
                }
            }

            // Approvals through every instance in turn: two missions of one target are approved on two instances at once.
            foreach (var waiting in missions.Where(m => m.State == MissionState.AwaitingApproval && approved.Add(m.Id)))
            {
                var client = cluster.Admins[next++ % 3];
                approvals.Add(client.PostAsJsonAsync($"api/missions/{waiting.Id}/approve", new { reason = "cluster test" }));
            }

            if (round.All(r => r == rounds) && missions.Count == 2 * rounds * ClusterFixture.Targets && missions.All(m => m.State.IsTerminal()))
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline,
                $"The missions did not all end in time: rounds {string.Join(",", round)}; states {string.Join(", ", missions.GroupBy(m => m.State).Select(g => $"{g.Key}={g.Count()}"))}\n"
                + string.Join("\n", cluster.Instances.Select(i => i.Output)));
            await Task.Delay(150);
        }

        await Task.WhenAll(approvals);
        await using var check = cluster.Db();
        var ended = await check.Missions.AsNoTracking().Where(m => EF.Functions.Like(m.Target, "t%")).ToListAsync();
        Assert.Equal(2 * rounds * ClusterFixture.Targets, ended.Count);
        Assert.All(ended, m => Assert.Equal(MissionState.Succeeded, m.State));
        var actions = cluster.Recorder.Actions.Where(a => a.Target.StartsWith('t')).ToList();
        Assert.Empty(cluster.Recorder.Overlaps());
        Assert.Empty(cluster.Recorder.Duplicates());
        Assert.Equal(ended.Count, actions.Count);
        Assert.Equal(ended.Select(m => m.Id.ToString()).Order(), actions.Select(a => a.Mission!).Order());
        // The work was shared: more than one instance acted.
        Assert.True(ended.Select(m => m.Instance).Distinct().Count() > 1, "Only one instance acted.");
    }

    [Fact]
    public async Task A_dead_instances_mission_ends_on_a_survivor_and_its_action_never_runs_twice()
    {
        cluster.Recorder.SlowTargets["slow"] = TimeSpan.FromSeconds(6);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.Recorder.OnAction = target =>
        {
            if (target == "slow")
            {
                started.TrySetResult();
            }

            return Task.CompletedTask;
        };
        try
        {
            Assert.Equal(HttpStatusCode.Accepted, (await SignalAsync(0, "cl-slow-1", "The slow service needs its action")).StatusCode);
            await started.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Mission executing;
            await using (var db = cluster.Db())
            {
                executing = await db.Missions.AsNoTracking().SingleAsync(m => m.Target == "slow");
            }

            Assert.Equal(MissionState.Executing, executing.State);
            var victim = cluster.Instance(executing.Instance!);
            victim.Kill();
            var killedAt = DateTime.UtcNow;

            Mission ended;
            for (; ; await Task.Delay(100))
            {
                await using var db = cluster.Db();
                ended = await db.Missions.AsNoTracking().Include(m => m.Events).SingleAsync(m => m.Id == executing.Id);
                if (ended.State.IsTerminal())
                {
                    break;
                }

                Assert.True(DateTime.UtcNow - killedAt < TimeSpan.FromSeconds(10),
                    $"Mission still {ended.State} 10 s after {victim.Name} was killed:\n"
                    + string.Join("\n", cluster.Instances.Where(i => i.Running).Select(i => i.Output)));
            }

            Assert.Equal(MissionState.Succeeded, ended.State);
            var recovered = Assert.Single(ended.Events, e => e.Kind == "recovered");
            Assert.DoesNotContain(victim.Name, recovered.Message.Split(':').Last());
            // The target finished the one call the dead instance made; nobody called it again.
            for (var wait = DateTime.UtcNow.AddSeconds(10); cluster.Recorder.Actions.All(a => a.Target != "slow") && DateTime.UtcNow < wait; await Task.Delay(100))
            {
            }

            Assert.Single(cluster.Recorder.Actions, a => a.Target == "slow");
            Assert.DoesNotContain(cluster.Recorder.Undos, u => u.Target == "slow");

            await victim.StartAgainAsync();
        }
        finally
        {
            cluster.Recorder.OnAction = null;
        }
    }

    [Fact]
    public async Task A_hub_client_on_one_instance_sees_missions_run_on_another()
    {
        var first = cluster.Instance("grace-1");
        var cookie = await first.SignInCookieAsync("admin", ClusterFixture.AdminPassword);
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(first.BaseAddress, "hubs/pipeline"), o => o.Headers["Cookie"] = cookie)
            .Build();
        hub.On<System.Text.Json.JsonElement>("MissionUpdated", e => lines.Enqueue(e.GetProperty("message").GetString() ?? ""));
        await hub.StartAsync();

        Assert.Equal(HttpStatusCode.Accepted, (await SignalAsync(2, "cl-pinned-1", "The pinned service needs its action")).StatusCode);
        for (var deadline = DateTime.UtcNow.AddSeconds(30); !lines.Any(l => l.Contains("About to run on grace-3", StringComparison.Ordinal)); await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, $"grace-1's hub never carried grace-3's action; it saw: {string.Join(" | ", lines)}");
        }

        for (var deadline = DateTime.UtcNow.AddSeconds(30); !lines.Any(l => l.StartsWith("Contract met", StringComparison.Ordinal)); await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, $"grace-1's hub never carried the verdict; it saw: {string.Join(" | ", lines)}");
        }
    }

    [Fact]
    public async Task One_fingerprint_sent_to_every_instance_at_once_makes_one_incident_that_counts_them_all()
    {
        const int perInstance = 40;
        var sends = Enumerable.Range(0, 3).SelectMany(instance => Enumerable.Range(0, perInstance)
            .Select(_ => SignalAsync(instance, "cl-fingerprint", "Disk latency on the shared volume is high"))).ToList();
        var answers = await Task.WhenAll(sends);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Accepted, a.StatusCode));

        await using var db = cluster.Db();
        var incident = Assert.Single(await db.Incidents.AsNoTracking().Where(i => i.Source == "cl-fingerprint").ToListAsync());
        Assert.Equal(3 * perInstance, incident.Count);
    }

    [Fact]
    public async Task A_key_revoked_through_one_instance_is_refused_by_the_others_long_before_their_cache_expires()
    {
        var admin = cluster.Admins[0];
        var created = await admin.PostAsJsonAsync("api/keys", new { name = "cl-revoked" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var (id, key) = (body.GetProperty("id").GetGuid(), body.GetProperty("key").GetString()!);
        var others = cluster.Instances.Skip(1).Select(instance =>
        {
            var client = new HttpClient { BaseAddress = instance.BaseAddress };
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            return client;
        }).ToList();
        try
        {
            foreach (var other in others)
            {
                // Accepted, and so cached for 30 s on that instance.
                Assert.Equal(HttpStatusCode.Accepted, (await other.PostAsJsonAsync("api/signals", new { source = "cl-key", message = "before" })).StatusCode);
            }

            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"api/keys/{id}")).StatusCode);
            // The relay batches events as they come: well under a second on loopback. Ten seconds is
            // far below the 30 s the caches would otherwise hold the key, so this fails without the relay.
            foreach (var other in others)
            {
                var refused = false;
                for (var i = 0; i < 50 && !refused; i++)
                {
                    refused = (await other.PostAsJsonAsync("api/signals", new { source = "cl-key", message = "after" })).StatusCode == HttpStatusCode.Forbidden;
                    if (!refused)
                    {
                        await Task.Delay(200);
                    }
                }

                Assert.True(refused, $"{other.BaseAddress} still accepted the revoked key after 10 s.");
            }
        }
        finally
        {
            others.ForEach(o => o.Dispose());
        }
    }

    [Fact]
    public async Task A_sign_in_on_one_instance_is_accepted_by_the_others()
    {
        // The keys that protect cookies live in the shared database: behind a load balancer any instance may answer.
        var cookie = await cluster.Instance("grace-1").SignInCookieAsync("admin", ClusterFixture.AdminPassword);
        using var other = new HttpClient { BaseAddress = cluster.Instance("grace-2").BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/capture/stats");
        request.Headers.Add("Cookie", cookie);
        using var response = await other.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Each_health_check_runs_once_per_interval_in_the_whole_cluster()
    {
        // Let every instance settle (the sweeper keeps the checker alive wherever it lives).
        for (var deadline = DateTime.UtcNow.AddSeconds(30); cluster.Recorder.HealthHits("checked") == 0; await Task.Delay(200))
        {
            Assert.True(DateTime.UtcNow < deadline, "The health check never ran.");
        }

        var before = cluster.Recorder.HealthHits("checked");
        await Task.Delay(TimeSpan.FromSeconds(10));
        var hits = cluster.Recorder.HealthHits("checked") - before;
        // One checker at 1 s gives about 10; one per instance would give about 30.
        Assert.InRange(hits, 6, 14);
    }
}
