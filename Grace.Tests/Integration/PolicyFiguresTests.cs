using System.Diagnostics;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Gate;
using Grace.Engine.Missions;
using Grace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Grace.Tests.Integration;

/// <summary>
/// Policy reads the kill switch, the cooldown, the runs of the last hour and the missions in flight
/// on the target in one statement (ADR 0029, "One policy query"). Each rule is shown here on its own,
/// on missions written straight into the database (the engine's sweep is kept away from them), so a
/// subquery that counted the wrong rows would let something through or hold something back.
/// </summary>
public abstract class PolicyFiguresTests(DatabaseProvider provider) : DatabaseTest(provider)
{
    private const string Playbook = "test-checkpoint";
    private const string Target = "test-db";

    private GraceHost NewHost(params (string Key, string Value)[] extra)
    {
        (string Key, string Value)[] rules =
        [
            // The missions below are written by hand: no sweep may move them meanwhile.
            ("Grace:Engine:SweepIntervalSeconds", "3600"),
            ($"Grace:Playbooks:{Playbook}:CooldownSeconds", "600"),
            ("Grace:Engine:MaxRunsPerHour", "3"),
            ("Grace:Engine:MaxConcurrentMissionsPerTarget", "1"),
        ];
        var settings = rules.Where(r => !extra.Any(e => e.Key == r.Key)).Concat(extra).ToList();
        return new GraceHost(TestCatalog.Settings(Folder).Concat(Database.Settings())
            .Where(kv => !settings.Any(e => e.Key == kv.Key))
            .Concat(settings.Select(e => new KeyValuePair<string, string?>(e.Key, e.Value)))).Start();
    }

    [Fact]
    public async Task Nothing_ran_and_nothing_in_flight_proceeds()
    {
        await using var host = NewHost();
        var (decision, _) = await EvaluateAsync(host, []);
        Assert.Equal(GateVerdict.Proceed, decision.Verdict);
    }

    [Fact]
    public async Task A_run_of_the_playbook_on_the_target_inside_the_cooldown_blocks_and_one_before_it_or_elsewhere_does_not()
    {
        await using var host = NewHost(("Grace:Engine:MaxRunsPerHour", "100"));
        var now = DateTimeOffset.UtcNow;
        // Before the cooldown, on another target, another playbook: none of them counts.
        var (allowed, _) = await EvaluateAsync(host, [
            Ran(now.AddMinutes(-11)),
            Ran(now.AddMinutes(-1), target: "test-cache"),
            Ran(now.AddMinutes(-1), playbook: "test-clear-cache"),
        ]);
        Assert.Equal(GateVerdict.Proceed, allowed.Verdict);

        var (blocked, _) = await EvaluateAsync(host, [Ran(now.AddMinutes(-2)), Ran(now.AddMinutes(-5))]);
        Assert.Equal(GateVerdict.Block, blocked.Verdict);
        Assert.StartsWith("Cooldown", blocked.Reason);
        // The latest run in the window is the one named.
        Assert.Contains($"{StoredTime.Floor(now.AddMinutes(-2)):u}", blocked.Reason);
    }

    [Fact]
    public async Task The_hourly_cap_counts_every_run_of_the_last_hour_on_any_target_and_not_older_ones()
    {
        await using var host = NewHost(($"Grace:Playbooks:{Playbook}:CooldownSeconds", "0"));
        var now = DateTimeOffset.UtcNow;
        var (under, _) = await EvaluateAsync(host, [
            Ran(now.AddMinutes(-10), target: "test-cache", playbook: "test-clear-cache"),
            Ran(now.AddMinutes(-20)),
            Ran(now.AddMinutes(-61)),
        ]);
        Assert.Equal(GateVerdict.Proceed, under.Verdict);

        var (capped, _) = await EvaluateAsync(host, [Ran(now.AddMinutes(-30), target: "test-cache", playbook: "test-clear-cache")]);
        Assert.Equal(GateVerdict.Block, capped.Verdict);
        Assert.Equal("Hourly cap: 3 actions ran in the last hour (Grace:Engine:MaxRunsPerHour = 3).", capped.Reason);
    }

    [Fact]
    public async Task A_mission_in_flight_on_the_target_defers_but_not_one_on_another_target_or_an_approved_one_right_before_the_action()
    {
        await using var host = NewHost();
        var (elsewhere, _) = await EvaluateAsync(host, [InState(MissionState.Verifying, target: "test-cache")]);
        Assert.Equal(GateVerdict.Proceed, elsewhere.Verdict);

        // Approved counts at the gate (it holds the target's turn), not right before an action.
        var (atGate, mission) = await EvaluateAsync(host, [InState(MissionState.Approved)]);
        Assert.Equal(GateVerdict.Defer, atGate.Verdict);
        Assert.Equal($"Target '{Target}' already has 1 mission(s) in flight; waiting for it to be free.", atGate.Reason);
        await using (var db = host.CreateDb())
        {
            var beforeAction = await host.Get<PolicyGate>().EvaluateAsync(db, mission, CancellationToken.None, beforeAction: true);
            Assert.Equal(GateVerdict.Proceed, beforeAction.Verdict);
        }

        var (acting, _) = await EvaluateAsync(host, [InState(MissionState.Executing)]);
        Assert.Equal(GateVerdict.Defer, acting.Verdict);
    }

    [Fact]
    public async Task The_kill_switch_stored_by_a_person_blocks_before_anything_is_counted()
    {
        await using var host = NewHost();
        await host.Get<KillSwitch>().SetAsync(true, new Actor("lead", [GraceRoles.Lead]), "test", CancellationToken.None);
        var (decision, mission) = await EvaluateAsync(host, [Ran(DateTimeOffset.UtcNow.AddMinutes(-1))]);
        Assert.Equal(GateVerdict.Block, decision.Verdict);
        Assert.StartsWith("The kill switch is engaged", decision.Reason);

        await host.Get<KillSwitch>().SetAsync(false, new Actor("lead", [GraceRoles.Lead]), "test", CancellationToken.None);
        await using var db = host.CreateDb();
        var released = await host.Get<PolicyGate>().EvaluateAsync(db, mission, CancellationToken.None);
        Assert.StartsWith("Cooldown", released.Reason);
    }

    [Fact]
    public async Task A_mission_not_stored_yet_is_counted_the_same()
    {
        await using var host = NewHost();
        var (_, stored) = await EvaluateAsync(host, [Ran(DateTimeOffset.UtcNow.AddMinutes(-1))]);
        var unsaved = NewMission(MissionState.Planned, Target, Playbook, stored.IncidentId);
        await using var db = host.CreateDb();
        var decision = await host.Get<PolicyGate>().EvaluateAsync(db, unsaved, CancellationToken.None);
        Assert.StartsWith("Cooldown", decision.Reason);
    }

    [Fact]
    public async Task Policy_reads_its_figures_in_one_statement()
    {
        await using var host = NewHost();
        var (_, stored) = await EvaluateAsync(host, [Ran(DateTimeOffset.UtcNow.AddMinutes(-30))]);
        await using var db = host.CreateDb();
        using var commands = await CommandCounter.StartAsync(db);
        var decision = await host.Get<PolicyGate>().EvaluateAsync(db, stored, CancellationToken.None);
        Assert.StartsWith("Policy allows it", decision.Reason);
        Assert.Equal(1, commands.Count);
    }

    private static Func<Guid, Mission> Ran(DateTimeOffset at, string target = Target, string playbook = Playbook) =>
        incident => NewMission(MissionState.Blocked, target, playbook, incident, at);

    private static Func<Guid, Mission> InState(MissionState state, string target = Target) =>
        incident => NewMission(state, target, Playbook, incident);

    /// <summary>Stores the missions given and a planned one of the test playbook on the test target, and evaluates policy for the planned one.</summary>
    private static async Task<(GateDecision Decision, Mission Mission)> EvaluateAsync(GraceHost host, Func<Guid, Mission>[] others)
    {
        Mission mission;
        await using (var db = host.CreateDb())
        {
            var incident = new Incident
            {
                Id = Guid.NewGuid(), Fingerprint = Guid.NewGuid().ToString("N"), Source = "tests", Template = "t", SampleMessage = "m",
                Severity = Severity.Error, Status = IncidentStatus.Mitigating, OpenedAt = DateTimeOffset.UtcNow, FirstSeenAt = DateTimeOffset.UtcNow, LastSeenAt = DateTimeOffset.UtcNow, Count = 1,
            };
            db.Incidents.Add(incident);
            foreach (var other in others)
            {
                db.Missions.Add(other(incident.Id));
            }

            mission = NewMission(MissionState.Planned, Target, Playbook, incident.Id);
            db.Missions.Add(mission);
            await db.SaveChangesAsync();
        }

        await using (var db = host.CreateDb())
        {
            var stored = await db.Missions.SingleAsync(m => m.Id == mission.Id);
            return (await host.Get<PolicyGate>().EvaluateAsync(db, stored, CancellationToken.None), stored);
        }
    }

    private static Mission NewMission(MissionState state, string target, string playbook, Guid incidentId, DateTimeOffset? executedAt = null) => new()
    {
        Id = Guid.NewGuid(), IncidentId = incidentId, PatternKey = "test-wal", PlaybookKey = playbook, Action = "sqlite.wal-checkpoint", Target = target,
        Parameters = "{}", Tier = 0, State = state, Stage = PipelineStage.Gate, RequestedBy = "engine",
        CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow, ExecutedAt = executedAt,
    };
}

/// <summary>Counts the database commands one context runs (EF Core's diagnostic events, filtered by context).</summary>
internal sealed class CommandCounter : IDisposable, IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>
{
    private readonly DbContext _context;
    private readonly List<IDisposable> _subscriptions = [];
    private int _count;

    private CommandCounter(DbContext context)
    {
        _context = context;
        _subscriptions.Add(DiagnosticListener.AllListeners.Subscribe(this));
    }

    /// <summary>
    /// Starts counting, once EF Core will see the listener: it caches for a second whether anyone listens
    /// (ConfigureLoggingCacheTime), and a context from the pool keeps what its last lease cached.
    /// </summary>
    public static async Task<CommandCounter> StartAsync(DbContext context)
    {
        var counter = new CommandCounter(context);
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        return counter;
    }

    public int Count => Volatile.Read(ref _count);

    void IObserver<DiagnosticListener>.OnNext(DiagnosticListener listener)
    {
        if (listener.Name == DbLoggerCategory.Name)
        {
            _subscriptions.Add(listener.Subscribe(this));
        }
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Key == RelationalEventId.CommandExecuting.Name && value.Value is CommandEventData data && ReferenceEquals(data.Context, _context))
        {
            Interlocked.Increment(ref _count);
        }
    }

    void IObserver<DiagnosticListener>.OnCompleted() { }
    void IObserver<DiagnosticListener>.OnError(Exception error) { }
    void IObserver<KeyValuePair<string, object?>>.OnCompleted() { }
    void IObserver<KeyValuePair<string, object?>>.OnError(Exception error) { }

    public void Dispose()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }
    }
}

public sealed class SqlitePolicyFiguresTests() : PolicyFiguresTests(DatabaseProvider.Sqlite);

public sealed class PostgresPolicyFiguresTests() : PolicyFiguresTests(DatabaseProvider.Postgres);
