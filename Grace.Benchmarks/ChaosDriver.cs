using System.Collections.Concurrent;
using System.Diagnostics;
using Grace.Benchmarks.Harness;
using Grace.Data.Entities;
using Grace.Engine.Plan;
using Microsoft.EntityFrameworkCore;

namespace Grace.Benchmarks;

/// <summary>Options of the <c>chaos</c> mode.</summary>
internal sealed record ChaosSettings(int Rounds, double SweepSeconds, TimeSpan SettleTimeout, string Scenarios, TimeSpan Tail);

/// <summary>
/// kill -9, again and again, against one Grace alone on SQLite and against a three-instance cluster
/// on PostgreSQL, while signals stream in over HTTP and missions act on a recording HTTP service.
/// Then, once everything had time to settle, the invariants: no mission acted twice, no two
/// actions at once on one target, no signal answered 202 lost, no mission stuck, no incident
/// stranded (never planned, or mitigating with no mission under way).
/// </summary>
internal sealed class ChaosDriver(TextWriter output, ChaosSettings settings)
{
    private const int ChaosTargets = 6;
    private const int NoiseFingerprints = 4;
    private static readonly string[] ClusterNames = ["grace-1", "grace-2", "grace-3"];

    /// <summary>What one scenario measured.</summary>
    private sealed record Result(
        string Scenario, int Rounds, string Killed, string Duration, long Requests, long Accepted, long NotAccepted, long SignalsAccepted,
        int DoubleActions, int Overlaps, long LostSignals, long Undercounted, long SharedAcknowledged, long OverCounted, int LostIncidents, int StuckMissions, int PlanPending, int MitigatingOrphans,
        int Missions, string Outcomes, int Recovered, int SucceededWithoutCall, string Settled, List<string> Evidence);

    public async Task RunAsync()
    {
        var results = new List<Result>();
        if (settings.Scenarios is "all" or "standalone")
        {
            results.Add(await ScenarioAsync(cluster: false));
        }

        if (settings.Scenarios is "all" or "cluster")
        {
            results.Add(await ScenarioAsync(cluster: true));
        }

        output.WriteLine();
        output.WriteLine($"## Chaos, {DateTime.UtcNow:u}, {settings.Rounds} kill -9 rounds per scenario, sweep every {settings.SweepSeconds:G} s");
        output.WriteLine();
        output.WriteLine("| Invariant | " + string.Join(" | ", results.Select(r => r.Scenario)) + " |");
        output.WriteLine("|---|" + string.Concat(results.Select(_ => "---|")));
        Row("kill -9 rounds (who was killed)", r => $"{r.Rounds} ({r.Killed})");
        Row("run length", r => r.Duration);
        Row("signal requests: answered 202 / not answered 202 (refused, cut, instance down)", r => $"{r.Accepted:N0} / {r.NotAccepted:N0} of {r.Requests:N0}");
        Row("signals answered 202", r => $"{r.SignalsAccepted:N0}");
        Row("**accepted (202) signals lost** (repeats counted by their own instance; new incidents)", r => $"**{r.LostSignals}**; **{r.LostIncidents}** new incidents missing");
        Row("repeats of one fingerprint sent to every instance: answered 202 but missing from the incident's count", r => r.SharedAcknowledged == 0 ? "n/a (one instance)" : $"{r.Undercounted:N0} of {r.SharedAcknowledged:N0}");
        Row("signals counted more often than sent", r => $"{r.OverCounted}");
        Row("**double actions** (one mission id twice at the target)", r => $"**{r.DoubleActions}**");
        Row("**overlapping actions on one target**", r => $"**{r.Overlaps}**");
        Row("**missions stuck** (not ended after the settle time)", r => $"**{r.StuckMissions}**");
        Row("**incidents stranded**: plan pending / mitigating with no mission under way", r => $"**{r.PlanPending} / {r.MitigatingOrphans}**");
        Row("missions, and how they ended", r => $"{r.Missions:N0}: {r.Outcomes}");
        Row("missions recovered after their instance died (verified, not re-run)", r => $"{r.Recovered}");
        Row("of those, ended Succeeded although their call never reached the target", r => $"{r.SucceededWithoutCall}");
        Row("settled (everything ended, nothing pending) after the last restart", r => r.Settled);
        foreach (var r in results.Where(r => r.Evidence.Count > 0))
        {
            output.WriteLine();
            output.WriteLine($"Evidence ({r.Scenario}):");
            foreach (var line in r.Evidence)
            {
                output.WriteLine($"- {line}");
            }
        }

        void Row(string name, Func<Result, string> cell) => output.WriteLine($"| {name} | {string.Join(" | ", results.Select(cell))} |");
    }

    private async Task<Result> ScenarioAsync(bool cluster)
    {
        var scenario = cluster ? "three instances, PostgreSQL" : "one instance, SQLite";
        var folder = Path.Combine(Path.GetTempPath(), "grace-bench", $"chaos-{(cluster ? "cluster" : "standalone")}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        Directory.CreateDirectory(folder);
        output.WriteLine($"chaos ({scenario}): run folder {folder}; machine: {Machine.Describe()}; load average {Machine.Load()}");
        await using var recorder = await RecordingTarget.StartAsync();
        recorder.ActionTime = TimeSpan.FromMilliseconds(300);
        await using var database = cluster ? await BenchDatabase.CreatePostgresAsync() : BenchDatabase.Sqlite(Path.Combine(folder, "grace-1"));
        var catalog = new BenchCatalog(recorder);
        catalog.Engine["SweepIntervalSeconds"] = settings.SweepSeconds;
        var playbooks = new List<string>();
        for (var t = 0; t < ChaosTargets; t++)
        {
            var target = $"ch{t:00}";
            catalog.Target(target);
            // Two playbooks per target: missions queue for a target, and new incidents are covered by the one under way.
            foreach (var letter in new[] { "a", "b" })
            {
                catalog.Playbook($"{target}-{letter}", target, $"{target}-{letter}-");
                playbooks.Add($"{target}-{letter}");
            }
        }

        // One slow target, so a kill often lands in the middle of an action.
        catalog.Target("ch-slow");
        catalog.Playbook("ch-slow-a", "ch-slow", "ch-slow-a-");
        playbooks.Add("ch-slow-a");
        recorder.SlowTargets["ch-slow"] = TimeSpan.FromSeconds(3);
        var settingsFile = catalog.Write(folder);

        var clock = Stopwatch.StartNew();
        await using var fleet = await GraceFleet.StartAsync(database, cluster ? ClusterNames : ["grace-1"], settingsFile, folder);
        await fleet.WaitAllActiveAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"chaos ({scenario}): up in {clock.Elapsed.TotalSeconds:0.0} s");

        var ledger = new Ledger();
        using var stop = new CancellationTokenSource();
        var streams = Enumerable.Range(0, 2).Select(s => Task.Run(() => StreamAsync(fleet, ledger, playbooks, s, stop.Token))).ToList();

        var killed = new Dictionary<string, int>(StringComparer.Ordinal);
        var runClock = Stopwatch.StartNew();
        for (var round = 0; round < settings.Rounds; round++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(2000, 5000)));
            var victim = await ChooseVictimAsync(fleet, round);
            int executing;
            await using (var db = fleet.Db())
            {
                executing = await db.Missions.CountAsync(m => m.State == MissionState.Executing && m.Instance == victim.Name);
            }

            victim.Kill();
            killed[victim.Name] = killed.GetValueOrDefault(victim.Name) + 1;
            // Down for a moment while the stream goes on (the others, in a cluster, take over).
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(500, 2000)));
            var restart = await victim.StartAgainAsync();
            output.WriteLine($"chaos ({scenario}) round {round + 1}/{settings.Rounds}: killed {victim.Name} with {executing} action(s) under way; back in {restart.TotalSeconds:0.0} s; "
                + $"so far {ledger.Accepted:N0} requests answered 202, {ledger.NotAccepted:N0} not; load average {Machine.Load()}");
            await fleet.WaitAllActiveAsync(TimeSpan.FromSeconds(90));
        }

        // More stream on the whole fleet (with no rounds, this is the whole run: a control without kills), then stop and let everything settle.
        await Task.Delay(settings.Tail);
        await stop.CancelAsync();
        await Task.WhenAll(streams);
        var duration = runClock.Elapsed;
        var settleClock = Stopwatch.StartNew();
        string settled;
        while (true)
        {
            var state = await StateAsync(fleet);
            if (state.Unsettled == 0)
            {
                settled = $"{settleClock.Elapsed.TotalSeconds:0} s";
                break;
            }

            if (settleClock.Elapsed > settings.SettleTimeout)
            {
                settled = $"**not within {settings.SettleTimeout.TotalSeconds:0} s** ({state.Unsettled} left)";
                break;
            }

            await Task.Delay(500);
        }

        var result = await CheckAsync(fleet, recorder, ledger, scenario, killed, duration, settled);
        output.WriteLine($"chaos ({scenario}): lost {result.LostSignals} + {result.LostIncidents}, undercounted {result.Undercounted}, double actions {result.DoubleActions}, overlaps {result.Overlaps}, stuck {result.StuckMissions}, "
            + $"plan pending {result.PlanPending}, mitigating orphans {result.MitigatingOrphans}; {result.Missions} missions ({result.Outcomes}); settled {settled}");
        return result;
    }

    /// <summary>Alone: the one instance. In a cluster: every other round the instance running an action (the hard case), else any.</summary>
    private static async Task<GraceProcess> ChooseVictimAsync(GraceFleet fleet, int round)
    {
        if (fleet.Instances.Count == 1)
        {
            return fleet.Instances[0];
        }

        if (round % 2 == 0)
        {
            await using var db = fleet.Db();
            var acting = await db.Missions.AsNoTracking().Where(m => m.State == MissionState.Executing && m.Instance != null)
                .OrderByDescending(m => m.UpdatedAt).Select(m => m.Instance).FirstOrDefaultAsync();
            if (acting is not null && fleet.Instances.FirstOrDefault(i => i.Name == acting && i.Running) is { } busy)
            {
                return busy;
            }
        }

        var running = fleet.Instances.Where(i => i.Running).ToList();
        return running[Random.Shared.Next(running.Count)];
    }

    /// <summary>What the harness sent, what was answered 202, per noise fingerprint and per new incident.</summary>
    private sealed class Ledger
    {
        public readonly ConcurrentDictionary<string, long> Attempted = new(StringComparer.Ordinal);
        public readonly ConcurrentDictionary<string, long> Acknowledged = new(StringComparer.Ordinal);
        public readonly ConcurrentDictionary<string, byte> NewIncidents = new(StringComparer.Ordinal);
        private long _accepted;
        private long _notAccepted;
        private long _signals;

        public long Accepted => Interlocked.Read(ref _accepted);
        public long NotAccepted => Interlocked.Read(ref _notAccepted);
        public long Signals => Interlocked.Read(ref _signals);

        public void Answer(bool accepted, List<(string Source, bool IsNew)> signals)
        {
            if (!accepted)
            {
                Interlocked.Increment(ref _notAccepted);
                return;
            }

            Interlocked.Increment(ref _accepted);
            Interlocked.Add(ref _signals, signals.Count);
            foreach (var (source, isNew) in signals)
            {
                if (isNew)
                {
                    NewIncidents[source] = 0;
                }
                else
                {
                    Acknowledged.AddOrUpdate(source, 1, (_, n) => n + 1);
                }
            }
        }
    }

    /// <summary>
    /// One stream of signals, in turns over the running instances. Each turn sends: a batch of
    /// repeats of a few fingerprints that only this instance ever receives (its own counters, so a
    /// shortfall is a signal lost, not a race between instances), now and then with a signal from a
    /// source never seen before that a playbook matches (a new incident: a mission or a cover); a
    /// batch of repeats of fingerprints every instance receives (cluster-wide counting); and single-
    /// signal requests. Every attempt is counted, so a kill that cuts a request is known.
    /// </summary>
    private static async Task StreamAsync(GraceFleet fleet, Ledger ledger, List<string> playbooks, int stream, CancellationToken stop)
    {
        var n = 0;
        while (!stop.IsCancellationRequested)
        {
            n++;
            var instance = fleet.NextRunning();
            var own = new List<(string Source, bool IsNew)>();
            for (var i = 0; i < 20; i++)
            {
                own.Add((OwnNoise(instance, i), false));
            }

            if (n % 3 == 0)
            {
                own.Add(($"{playbooks[Random.Shared.Next(playbooks.Count)]}-s{stream}-{n}-{Guid.NewGuid():N}", true));
            }

            await SendAsync(fleet, ledger, own, instance, stayOn: true);
            if (fleet.IsCluster)
            {
                await SendAsync(fleet, ledger, [.. Enumerable.Range(0, 20).Select(i => ($"{SharedNoise}{i % NoiseFingerprints}", false))], instance, stayOn: false);
            }

            for (var i = 0; i < 4 && !stop.IsCancellationRequested; i++)
            {
                await SendAsync(fleet, ledger, [(OwnNoise(instance, n + i), false)], instance, stayOn: true);
            }

            try
            {
                await Task.Delay(100, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private const string OwnNoisePrefix = "noise-own-";
    private const string SharedNoise = "noise-shared-";

    private static string OwnNoise(GraceProcess instance, int i) => $"{OwnNoisePrefix}{instance.Name}-{i % NoiseFingerprints}";

    /// <summary>Sends without a stop token: a request under way when the stream stops is answered and counted like the others.</summary>
    private static async Task SendAsync(GraceFleet fleet, Ledger ledger, List<(string Source, bool IsNew)> signals, GraceProcess instance, bool stayOn)
    {
        object body = signals.Count == 1
            ? Signal(signals[0].Source)
            : signals.Select(s => Signal(s.Source)).ToArray();
        var sent = await fleet.PostSignalsAsync(body, instance, onAttempt: () =>
        {
            foreach (var (source, isNew) in signals.Where(s => !s.IsNew))
            {
                ledger.Attempted.AddOrUpdate(source, 1, (_, c) => c + 1);
            }
        }, stayOn: stayOn, cancellationToken: CancellationToken.None);
        ledger.Answer(sent.Accepted, signals);

        static object Signal(string source) => new { source, message = source.StartsWith("noise-", StringComparison.Ordinal) ? "Queue depth is high" : "The service needs its action", severity = "Error" };
    }

    private sealed record Settling(int Unsettled);

    /// <summary>How many missions have not ended, incidents wait to be planned, or incidents are mitigating with no mission under way.</summary>
    private static async Task<Settling> StateAsync(GraceFleet fleet)
    {
        await using var db = fleet.Db();
        var open = await db.Missions.CountAsync(m => !MissionStates.Terminal.Contains(m.State));
        var pending = await db.Incidents.CountAsync(i => i.PlanPending);
        var orphans = (await MitigatingOrphansAsync(db)).Count;
        return new Settling(open + pending + orphans);
    }

    private static async Task<List<Incident>> MitigatingOrphansAsync(Grace.Data.GraceDbContext db)
    {
        var mitigating = await db.Incidents.AsNoTracking().Where(i => i.Status == IncidentStatus.Mitigating).ToListAsync();
        if (mitigating.Count == 0)
        {
            return [];
        }

        var live = (await db.Missions.AsNoTracking().Where(m => !MissionStates.Terminal.Contains(m.State)).Select(m => new { m.Id, m.IncidentId }).ToListAsync());
        var liveIds = live.Select(m => m.Id).ToHashSet();
        var ownedByLive = live.Select(m => m.IncidentId).ToHashSet();
        var coveredByLive = (await db.MissionEvents.AsNoTracking().Where(e => e.Kind == MissionPlanner.CoversEvent && e.IncidentId != null)
            .Select(e => new { e.MissionId, e.IncidentId }).ToListAsync())
            .Where(e => liveIds.Contains(e.MissionId)).Select(e => e.IncidentId!.Value).ToHashSet();
        return [.. mitigating.Where(i => !ownedByLive.Contains(i.Id) && !coveredByLive.Contains(i.Id))];
    }

    private async Task<Result> CheckAsync(GraceFleet fleet, RecordingTarget recorder, Ledger ledger, string scenario, Dictionary<string, int> killed, TimeSpan duration, string settled)
    {
        var evidence = new List<string>();
        await using var db = fleet.Db();

        // Signals answered 202: every repeat counted. Fingerprints only one instance receives tell
        // whether an accepted signal survived its instance's kill; fingerprints every instance
        // receives tell whether instances counting into one incident at once lose counts.
        var counts = await db.Incidents.AsNoTracking().Where(i => i.Source.StartsWith("noise-")).ToDictionaryAsync(i => i.Source, i => i.Count);
        long lost = 0, over = 0, undercounted = 0, sharedAcknowledged = 0;
        foreach (var (source, acknowledged) in ledger.Acknowledged)
        {
            var stored = counts.GetValueOrDefault(source);
            var attempted = ledger.Attempted.GetValueOrDefault(source);
            var shared = source.StartsWith(SharedNoise, StringComparison.Ordinal);
            sharedAcknowledged += shared ? acknowledged : 0;
            if (stored < acknowledged)
            {
                if (shared)
                {
                    undercounted += acknowledged - stored;
                }
                else
                {
                    lost += acknowledged - stored;
                }

                evidence.Add($"{source}: {acknowledged} signals answered 202, {stored} counted ({attempted} sent)");
            }

            if (stored > attempted)
            {
                over += stored - attempted;
                evidence.Add($"{source}: counted {stored}, but only {attempted} were ever sent");
            }
        }

        var sources = ledger.NewIncidents.Keys.ToList();
        var stored202 = new HashSet<string>(StringComparer.Ordinal);
        foreach (var chunk in sources.Chunk(500))
        {
            stored202.UnionWith(await db.Incidents.AsNoTracking().Where(i => chunk.Contains(i.Source)).Select(i => i.Source).ToListAsync());
        }

        var missingIncidents = sources.Where(s => !stored202.Contains(s)).ToList();
        evidence.AddRange(missingIncidents.Take(10).Select(s => $"new incident from {s} answered 202 but not stored"));

        // The recording target is the witness for actions.
        var duplicates = recorder.Duplicates();
        var overlaps = recorder.Overlaps();
        foreach (var mission in duplicates.Take(5))
        {
            evidence.Add($"mission {mission} acted {recorder.Actions.Count(a => a.Mission == mission)} times: {await TimelineAsync(db, Guid.Parse(mission))}");
        }

        foreach (var (first, second) in overlaps.Take(5))
        {
            evidence.Add($"overlap on {first.Target}: {first.Mission} {first.Started:HH:mm:ss.fff}–{first.Ended:HH:mm:ss.fff} and {second.Mission} {second.Started:HH:mm:ss.fff}–{second.Ended:HH:mm:ss.fff}");
        }

        var missions = await db.Missions.AsNoTracking().Select(m => new { m.Id, m.State, m.IncidentId, m.Instance }).ToListAsync();
        var stuck = missions.Where(m => !m.State.IsTerminal()).ToList();
        foreach (var mission in stuck.Take(5))
        {
            evidence.Add($"mission {mission.Id} stuck {mission.State}: {await TimelineAsync(db, mission.Id)}");
        }

        var pending = await db.Incidents.AsNoTracking().Where(i => i.PlanPending).ToListAsync();
        evidence.AddRange(pending.Take(5).Select(i => $"incident {i.Id} from {i.Source} still PlanPending (status {i.Status}, last seen {i.LastSeenAt:HH:mm:ss.fff})"));
        var orphans = await MitigatingOrphansAsync(db);
        foreach (var incident in orphans.Take(5))
        {
            var links = await db.MissionEvents.AsNoTracking().Where(e => e.IncidentId == incident.Id).Select(e => e.MissionId).ToListAsync();
            var own = missions.Where(m => m.IncidentId == incident.Id).Select(m => $"{m.Id} {m.State}");
            evidence.Add($"incident {incident.Id} from {incident.Source} mitigating with no mission under way; own missions [{string.Join(", ", own)}], covered by [{string.Join(", ", links.Select(l => $"{l} {missions.FirstOrDefault(m => m.Id == l)?.State}"))}]");
        }

        var recovered = await db.MissionEvents.AsNoTracking().Where(e => e.Kind == "recovered").Select(e => e.MissionId).Distinct().ToListAsync();
        var called = recorder.Actions.Where(a => a.Mission is not null).Select(a => a.Mission!).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var succeededWithoutCall = missions.Count(m => recovered.Contains(m.Id) && m.State == MissionState.Succeeded && !called.Contains(m.Id.ToString()));
        var outcomes = string.Join(", ", missions.GroupBy(m => m.State).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count():N0}"));

        return new Result(scenario, settings.Rounds, string.Join(", ", killed.OrderBy(k => k.Key).Select(k => $"{k.Key} ×{k.Value}")), $"{duration.TotalMinutes:0.0} min",
            ledger.Accepted + ledger.NotAccepted, ledger.Accepted, ledger.NotAccepted, ledger.Signals, duplicates.Count, overlaps.Count, lost, undercounted, sharedAcknowledged, over, missingIncidents.Count,
            stuck.Count, pending.Count, orphans.Count, missions.Count, outcomes, recovered.Count, succeededWithoutCall, settled, evidence);
    }

    private static async Task<string> TimelineAsync(Grace.Data.GraceDbContext db, Guid missionId)
    {
        var events = await db.MissionEvents.AsNoTracking().Where(e => e.MissionId == missionId).OrderBy(e => e.Id).ToListAsync();
        return string.Join(" | ", events.Select(e => $"{e.At:HH:mm:ss.fff} {e.Kind}: {e.Message}"));
    }
}
