using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Grace.Benchmarks.Harness;
using Grace.Data.Entities;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.EntityFrameworkCore;

namespace Grace.Benchmarks;

/// <summary>Options of the <c>cluster</c> mode.</summary>
internal sealed record ClusterSettings(int Kills, double SweepSeconds, TimeSpan SlowAction, TimeSpan LatencyPhase, TimeSpan ThroughputPhase, TimeSpan ThroughputWarmUp, int PlaybooksPerTarget);

/// <summary>
/// Three real Grace processes on a fresh PostgreSQL database, acting on a recording HTTP service
/// outside them. Measures (a) failover: kill -9 the instance running a slow action, and time the
/// mission moving again on a survivor and ending; (b) how late a live event from one instance
/// reaches a hub client connected to another; (c) how many missions per second one target, and
/// twenty targets at once, complete.
/// </summary>
internal sealed class ClusterDriver(TextWriter output, ClusterSettings settings)
{
    private static readonly string[] Names = ["grace-1", "grace-2", "grace-3"];
    private static readonly string[] Letters = ["a", "b"];
    private const int Targets = 20;
    private readonly List<string> _report = [];
    private readonly List<string> _findings = [];

    private static string Tp(int i) => $"tp{i:00}";

    public async Task RunAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), "grace-bench", $"cluster-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        Directory.CreateDirectory(folder);
        output.WriteLine($"cluster: run folder {folder} (each instance's log is kept there); machine: {Machine.Describe()}; load average {Machine.Load()}");
        await using var recorder = await RecordingTarget.StartAsync();
        await using var database = await BenchDatabase.CreatePostgresAsync();
        var catalog = new BenchCatalog(recorder);
        catalog.Engine["SweepIntervalSeconds"] = settings.SweepSeconds;

        // (a) A slow action, to kill its instance in the middle of it.
        catalog.Target("slow");
        catalog.Playbook("fo-slow", "slow", "fo-slow-");
        recorder.SlowTargets["slow"] = settings.SlowAction;

        // (b) A target whose actions run on grace-2, and one on grace-1 itself (the local baseline).
        catalog.Target("pinned-remote", instance: "grace-2");
        catalog.Target("pinned-local", instance: "grace-1");
        foreach (var letter in Letters)
        {
            catalog.Playbook($"lat-remote-{letter}", "pinned-remote", $"lat-remote-{letter}-");
            catalog.Playbook($"lat-local-{letter}", "pinned-local", $"lat-local-{letter}-");
        }

        // (c) Twenty targets with several playbooks each, so a target always has the next mission waiting.
        for (var t = 0; t < Targets; t++)
        {
            catalog.Target(Tp(t));
            for (var p = 0; p < settings.PlaybooksPerTarget; p++)
            {
                catalog.Playbook($"{Tp(t)}-p{p}", Tp(t), $"{Tp(t)}-p{p}-");
            }
        }

        var settingsFile = catalog.Write(folder);
        var clock = Stopwatch.StartNew();
        await using (var fleet = await GraceFleet.StartAsync(database, Names, settingsFile, folder))
        {
            output.WriteLine($"cluster: three instances up in {clock.Elapsed.TotalSeconds:0.0} s on database {database.ConnectionString.Split(';').First(p => p.StartsWith("Database", StringComparison.Ordinal))}");
            await fleet.WaitAllActiveAsync(TimeSpan.FromSeconds(60));
            await FailoverAsync(fleet, recorder);
            // Quiet: one mission at a time per target, a second apart. Busy: two playbooks per target back to back.
            await LatencyAsync(fleet, "quiet", ["a"], TimeSpan.FromSeconds(1));
            await LatencyAsync(fleet, "busy", Letters, null);
            await ThroughputAsync(fleet, recorder);

            var overlaps = recorder.Overlaps();
            var duplicates = recorder.Duplicates();
            _report.Add($"| Recording target, whole run: actions, overlapping pairs on one target, missions acted on twice | {recorder.Actions.Count:N0} actions, {overlaps.Count} overlaps, {duplicates.Count} duplicates | – | 0 and 0 |");
            if (overlaps.Count + duplicates.Count > 0)
            {
                _findings.Add($"recording target saw {overlaps.Count} overlaps and {duplicates.Count} duplicate missions: {string.Join(", ", duplicates.Take(5))}");
            }
        }

        output.WriteLine();
        output.WriteLine($"## Cluster (three Grace processes, PostgreSQL), {DateTime.UtcNow:u}, sweep every {settings.SweepSeconds:G} s");
        output.WriteLine();
        output.WriteLine("| Figure | Measured | Baseline | Goal |");
        output.WriteLine("|---|---|---|---|");
        foreach (var row in _report)
        {
            output.WriteLine(row);
        }

        output.WriteLine();
        output.WriteLine(_findings.Count == 0 ? "No anomalies." : "Anomalies:\n- " + string.Join("\n- ", _findings));
        output.WriteLine($"Logs: {folder}");
    }

    /// <summary>(a) Kill the instance whose action is running, time the mission moving again elsewhere, start it again; repeat.</summary>
    private async Task FailoverAsync(GraceFleet fleet, RecordingTarget recorder)
    {
        var dead = new List<double>();
        var recovered = new List<double>();
        var byRetry = new List<double>();
        var bySweep = new List<double>();
        var ended = new List<double>();
        var restarts = new List<double>();
        var victims = new Dictionary<string, int>(StringComparer.Ordinal);
        var succeeded = 0;
        for (var round = 0; round < settings.Kills; round++)
        {
            await fleet.WaitAllActiveAsync(TimeSpan.FromSeconds(60));
            var started = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
            recorder.OnAction = (target, mission) =>
            {
                if (target == "slow")
                {
                    started.TrySetResult(mission);
                }
            };
            var sent = await fleet.PostSignalsAsync(new { source = $"fo-slow-{Guid.NewGuid():N}", message = "The slow service needs its action", severity = "Error" },
                fleet.Instances[round % fleet.Instances.Count]);
            if (!sent.Accepted)
            {
                _findings.Add($"failover round {round + 1}: the signal was not accepted ({sent.Status})");
                continue;
            }

            string? missionText;
            try
            {
                missionText = await started.Task.WaitAsync(TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException)
            {
                _findings.Add($"failover round {round + 1}: no action reached the slow target within 60 s of a 202");
                continue;
            }

            var missionId = Guid.Parse(missionText!);
            Mission executing;
            await using (var db = fleet.Db())
            {
                executing = await db.Missions.AsNoTracking().SingleAsync(m => m.Id == missionId);
            }

            var victim = fleet.Instance(executing.Instance!);
            victims[victim.Name] = victims.GetValueOrDefault(victim.Name) + 1;
            // Killed at a different point of the action each round (it takes settings.SlowAction).
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(0, (int)Math.Min(1500, settings.SlowAction.TotalMilliseconds / 3))));
            var killedAt = victim.Kill();

            DateTimeOffset? deadAt = null;
            Mission? final = null;
            MissionEvent? recovery = null;
            for (var deadline = DateTime.UtcNow.AddSeconds(120); DateTime.UtcNow < deadline; await Task.Delay(50))
            {
                await using var db = fleet.Db();
                if (deadAt is null)
                {
                    var status = await db.ClusterMembers.AsNoTracking().Where(m => m.SiloName == victim.Name).OrderByDescending(m => m.StartedAt).Select(m => m.Status).FirstAsync();
                    if (status == GraceFleet.Dead)
                    {
                        deadAt = DateTimeOffset.UtcNow;
                    }
                }

                recovery ??= await db.MissionEvents.AsNoTracking().Where(e => e.MissionId == missionId && e.Kind == "recovered").FirstOrDefaultAsync();
                var mission = await db.Missions.AsNoTracking().SingleAsync(m => m.Id == missionId);
                if (mission.State.IsTerminal())
                {
                    final = mission;
                    break;
                }
            }

            // The target finishes the call the dead instance made; wait for it, then count calls for this mission.
            for (var wait = DateTime.UtcNow.AddSeconds(settings.SlowAction.TotalSeconds + 5); recorder.Actions.All(a => a.Mission != missionText) && DateTime.UtcNow < wait; await Task.Delay(100))
            {
            }

            var calls = recorder.Actions.Count(a => a.Mission == missionText);
            var undos = recorder.Undos.Count(a => a.Mission == missionText);
            var restart = await victim.StartAgainAsync();
            restarts.Add(restart.TotalSeconds);

            // Which path moved it: the mission's grain lived on a survivor and retried its failed call to
            // the dead target grain (it logs that), or it died with the instance and the sweeper woke it.
            var retried = fleet.Instances.Where(i => i != victim).Any(i => i.Logged($"Mission {missionId} could not move"));
            var line = $"failover {round + 1}/{settings.Kills}: mission {missionId} ({(retried ? "its grain on a survivor retried" : "its grain died too; woken by the sweep")}); killed {victim.Name}; declared dead after {Seconds(deadAt, killedAt)}, recovered after {Seconds(recovery?.At, killedAt)}"
                + $" ({RecoveredOn(recovery)}), ended {final?.State.ToString() ?? "NOT ENDED"} after {Seconds(final?.CompletedAt, killedAt)}; target calls {calls}, undos {undos}; restart {restart.TotalSeconds:0.0} s";
            output.WriteLine(line);
            if (deadAt is { } d)
            {
                dead.Add((d - killedAt).TotalMilliseconds);
            }

            if (recovery is not null)
            {
                recovered.Add((recovery.At - killedAt).TotalMilliseconds);
                (retried ? byRetry : bySweep).Add((recovery.At - killedAt).TotalMilliseconds);
            }

            if (final?.CompletedAt is { } c)
            {
                ended.Add((c - killedAt).TotalMilliseconds);
            }

            if (final?.State == MissionState.Succeeded && recovery is not null && calls == 1 && undos == 0)
            {
                succeeded++;
            }
            else
            {
                _findings.Add(line + "\n  timeline: " + await TimelineAsync(fleet, missionId));
            }
        }

        recorder.OnAction = null;
        output.WriteLine($"failover: load average now {Machine.Load()}");
        _report.Add($"| Failover, kill -9 → instance declared dead in the membership table (polled every 50 ms) | {Stats.Summary(dead, "s", 1000)} | – | – |");
        _report.Add($"| Failover, kill -9 → `recovered` on a survivor (the mission moves again) | {Stats.Summary(recovered, "s", 1000)} | – | ≤ 10 s |");
        _report.Add($"| … when the mission's grain lived on a survivor (its retry moved it) | {Stats.Summary(byRetry, "s", 1000)} | – | |");
        _report.Add($"| … when the mission's grain died with the instance (the sweep woke it) | {Stats.Summary(bySweep, "s", 1000)} | – | |");
        _report.Add($"| Failover, kill -9 → mission ended | {Stats.Summary(ended, "s", 1000)} | – | ≤ 10 s |");
        _report.Add($"| Failover rounds that ended Succeeded, verified not re-run (1 call at the target, no undo) | {succeeded} of {settings.Kills}; killed {string.Join(", ", victims.OrderBy(v => v.Key).Select(v => $"{v.Key} ×{v.Value}"))} | – | all |");
        _report.Add($"| Restart of a killed instance until it answers | {Stats.Summary(restarts.Select(r => r * 1000).ToList(), "s", 1000)} | – | – |");
    }

    private static string Seconds(DateTimeOffset? at, DateTimeOffset from) => at is { } a ? $"{(a - from).TotalSeconds:0.00} s" : "never";

    private static string RecoveredOn(MissionEvent? recovery) => recovery is null ? "no recovery line"
        : recovery.Message.Split(": ").LastOrDefault()?.Split(' ').FirstOrDefault() is { } name ? $"on {name}" : recovery.Message;

    private static async Task<string> TimelineAsync(GraceFleet fleet, Guid missionId)
    {
        await using var db = fleet.Db();
        var events = await db.MissionEvents.AsNoTracking().Where(e => e.MissionId == missionId).OrderBy(e => e.Id).ToListAsync();
        return string.Join(" | ", events.Select(e => $"{e.At:HH:mm:ss.fff} {e.Kind}: {e.Message}"));
    }

    /// <summary>(b) A hub client on grace-1; missions whose target lives on grace-2 (remote) and on grace-1 (local baseline).</summary>
    private async Task LatencyAsync(GraceFleet fleet, string load, string[] letters, TimeSpan? pause)
    {
        await fleet.WaitAllActiveAsync(TimeSpan.FromSeconds(60));
        var a = fleet.Instance("grace-1");
        var cookie = await a.SignInCookieAsync("admin", BenchCatalog.AdminPassword);
        var received = new ConcurrentQueue<(DateTimeOffset Arrived, JsonElement Event)>();
        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(a.BaseAddress, "hubs/pipeline"), o => o.Headers["Cookie"] = cookie)
            .Build();
        hub.On<JsonElement>("MissionUpdated", e => received.Enqueue((DateTimeOffset.UtcNow, e)));
        await hub.StartAsync();

        var since = DateTimeOffset.UtcNow;
        var others = new[] { fleet.Instance("grace-2"), fleet.Instance("grace-3") };
        var loadBefore = Machine.Load();
        var feeder = new MissionFeeder(fleet, [.. letters.SelectMany(l => new[]
        {
            new MissionFeeder.Feed($"lat-remote-{l}", $"lat-remote-{l}-", others),
            new MissionFeeder.Feed($"lat-local-{l}", $"lat-local-{l}-", others),
        })], pause);
        await feeder.RunAsync(settings.LatencyPhase);
        await Task.Delay(TimeSpan.FromSeconds(3)); // The last events on their way.
        await hub.StopAsync();

        // Lines written on the target's grain (so on its instance): diagnosis, plan, gate, snapshot,
        // the action, and the verdict. The "learned" line and probe lines are written by the
        // mission's grain, which may live anywhere, so they do not say which instance sent them.
        static bool OnTargetGrain(int stage, int state) =>
            stage is (int)PipelineStage.Diagnose or (int)PipelineStage.Plan or (int)PipelineStage.Gate or (int)PipelineStage.Snapshot or (int)PipelineStage.Execute
            || (stage == (int)PipelineStage.Verify && ((MissionState)state).IsTerminal());

        // What should have arrived: the same lines as the database has them, for this phase's missions.
        HashSet<Guid> phase;
        int expectedRemote;
        await using (var db = fleet.Db())
        {
            phase = [.. await db.Missions.AsNoTracking().Where(m => (m.Target == "pinned-remote" || m.Target == "pinned-local") && m.CreatedAt >= since).Select(m => m.Id).ToListAsync()];
            var stages = new[] { PipelineStage.Diagnose, PipelineStage.Plan, PipelineStage.Gate, PipelineStage.Snapshot, PipelineStage.Execute };
            var rows = await db.MissionEvents.AsNoTracking()
                .Where(e => e.Kind != "covers" && db.Missions.Any(m => m.Id == e.MissionId && m.Target == "pinned-remote" && m.CreatedAt >= since))
                .Select(e => new { e.Stage, e.Kind }).ToListAsync();
            expectedRemote = rows.Count(r => stages.Contains(r.Stage) || (r.Stage == PipelineStage.Verify && r.Kind is "contract-met" or "contract-failed"));
        }

        var samples = new Dictionary<string, List<double>> { ["pinned-remote"] = [], ["pinned-local"] = [] };
        foreach (var (arrived, e) in received)
        {
            var target = e.GetProperty("target").GetString()!;
            if (samples.TryGetValue(target, out var list) && phase.Contains(e.GetProperty("missionId").GetGuid())
                && OnTargetGrain(EnumOf<PipelineStage>(e.GetProperty("stage")), EnumOf<MissionState>(e.GetProperty("state"))))
            {
                list.Add((arrived - e.GetProperty("at").GetDateTimeOffset()).TotalMilliseconds);
            }
        }

        var remote = samples["pinned-remote"];
        var local = samples["pinned-local"];
        var missions = feeder.Sent;
        output.WriteLine($"latency ({load}): remote {Stats.Summary(remote)}; local {Stats.Summary(local)}; {remote.Count} of {expectedRemote} remote lines arrived; {missions} signals, {feeder.Refused} refused, {feeder.Resent} re-sent; load average {loadBefore} → {Machine.Load()}");
        _report.Add($"| Live event from grace-2 to a hub client on grace-1, {load} ({missions} missions in {settings.LatencyPhase.TotalSeconds:0} s; event `At` on grace-2 → arrival, so grace-2's commit included) | p50 {Stats.Percentile(remote, 0.5):0.0} ms, p99 {Stats.Percentile(remote, 0.99):0.0} ms, max {(remote.Count == 0 ? double.NaN : remote.Max()):0.0} ms; {remote.Count:N0} of {expectedRemote:N0} lines arrived | same client, events of grace-1 itself: p50 {Stats.Percentile(local, 0.5):0.0} ms, p99 {Stats.Percentile(local, 0.99):0.0} ms | p99 ≤ 250 ms |");
        if (remote.Count < expectedRemote)
        {
            _findings.Add($"live view ({load}): {expectedRemote - remote.Count} of {expectedRemote} remote timeline lines never reached the hub client on grace-1");
        }
    }

    private static int EnumOf<T>(JsonElement value) where T : struct, Enum =>
        value.ValueKind == JsonValueKind.Number ? value.GetInt32() : Convert.ToInt32(Enum.Parse<T>(value.GetString()!), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>(c) Missions completed per second by one target, then by twenty at once (tier 0, cooldown 0, an instant action).</summary>
    private async Task ThroughputAsync(GraceFleet fleet, RecordingTarget recorder)
    {
        recorder.ActionTime = TimeSpan.Zero;
        foreach (var targets in new[] { 1, Targets })
        {
            await fleet.WaitAllActiveAsync(TimeSpan.FromSeconds(60));
            var names = Enumerable.Range(0, targets).Select(Tp).ToList();
            var feeds = names.SelectMany(t => Enumerable.Range(0, settings.PlaybooksPerTarget).Select(p => new MissionFeeder.Feed($"{t}-p{p}", $"{t}-p{p}-"))).ToList();
            var feeder = new MissionFeeder(fleet, feeds);
            var loadBefore = Machine.Load();
            var start = DateTimeOffset.UtcNow;
            await feeder.RunAsync(settings.ThroughputPhase);
            var from = start + settings.ThroughputWarmUp;
            var to = start + settings.ThroughputPhase;
            await using var db = fleet.Db();
            var missions = await db.Missions.AsNoTracking().Where(m => names.Contains(m.Target) && m.CreatedAt >= start)
                .Select(m => new { m.Id, m.Target, m.State, m.ExecutedAt, m.CompletedAt, m.CreatedAt, m.Instance }).ToListAsync();
            var done = missions.Where(m => m.CompletedAt >= from && m.CompletedAt < to).ToList();
            var seconds = (to - from).TotalSeconds;
            var perTarget = names.Select(t => done.Count(m => m.Target == t) / seconds).ToList();
            var states = string.Join(", ", done.GroupBy(m => m.State).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"));
            var acting = done.Where(m => m.ExecutedAt is not null).Select(m => (m.CompletedAt!.Value - m.ExecutedAt!.Value).TotalMilliseconds).ToList();
            var whole = done.Select(m => (m.CompletedAt!.Value - m.CreatedAt).TotalMilliseconds).ToList();
            var instances = string.Join(", ", done.GroupBy(m => m.Instance ?? "none").OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"));
            // How long a target stood idle between one mission's end and the next one's action while
            // that next mission already waited: the hand-over cost (gate, snapshot, intent), or a wake-up that came late.
            var handovers = new List<double>();
            foreach (var group in missions.Where(m => m.ExecutedAt is not null && m.CompletedAt is not null).GroupBy(m => m.Target))
            {
                var ordered = group.OrderBy(m => m.ExecutedAt).ToList();
                foreach (var (previous, next) in ordered.Zip(ordered.Skip(1)))
                {
                    if (next.CreatedAt < previous.CompletedAt && next.ExecutedAt >= from && next.ExecutedAt < to)
                    {
                        handovers.Add((next.ExecutedAt!.Value - previous.CompletedAt!.Value).TotalMilliseconds);
                    }
                }
            }
            output.WriteLine($"throughput, {targets} target(s): {done.Count} missions ended in {seconds:0} s ({states}); per target {perTarget.Min():0.0}–{perTarget.Max():0.0}/s; "
                + $"intent → end {Stats.Summary(acting)}; planned → end {Stats.Summary(whole)}; hand-over (end → next intent, next waiting) {Stats.Summary(handovers)}; "
                + $"acted on {instances}; {feeder.Sent} signals, {feeder.Refused} refused, {feeder.Resent} re-sent; load average {loadBefore} → {Machine.Load()}");
            _report.Add(targets == 1
                ? $"| Missions completed per second by one target ({settings.PlaybooksPerTarget} playbooks keep it busy; tier 0, cooldown 0, instant action) | {done.Count / seconds:0.0}/s ({states}); intent → end p50 {Stats.Percentile(acting, 0.5):0} ms; planned → end (queued behind the others) p50 {Stats.Percentile(whole, 0.5):0} ms, max {Stats.Percentile(whole, 1):0} ms; hand-over to the next waiting mission p50 {Stats.Percentile(handovers, 0.5):0} ms, p99 {Stats.Percentile(handovers, 0.99):0} ms | – | – |"
                : $"| Missions completed per second by {targets} targets at once (same) | {done.Count / seconds:0.0}/s in all, {perTarget.Min():0.0}–{perTarget.Max():0.0}/s per target ({states}); intent → end p50 {Stats.Percentile(acting, 0.5):0} ms; planned → end p50 {Stats.Percentile(whole, 0.5):0} ms, max {Stats.Percentile(whole, 1):0} ms; hand-over p50 {Stats.Percentile(handovers, 0.5):0} ms, p99 {Stats.Percentile(handovers, 0.99):0} ms | one target alone, above | – |");
            if (done.Any(m => m.State != MissionState.Succeeded))
            {
                _findings.Add($"throughput with {targets} target(s): not every mission succeeded ({states})");
            }
        }
    }
}
