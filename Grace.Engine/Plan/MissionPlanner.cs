using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
using Grace.Engine.Learn;
using Grace.Engine.Missions;
using Grace.Engine.Targets;
using Grace.Engine.Verify;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Plan;

/// <summary>What the planning service asks a target's grain to plan: a diagnosed incident and the playbook chosen for it.</summary>
[GenerateSerializer, Immutable]
public sealed record PlanRequest(Guid IncidentId, string PatternKey, string PlaybookKey, string Target, string DiagnosisReason, List<string> RankedPlaybooks, string RequestedBy,
    MissionOrigin Origin = MissionOrigin.Signal, bool DryRun = false, DateTimeOffset? DiagnosedFrom = null);

/// <summary>
/// Writes a mission and its action contract (probe, comparator, threshold, deadline) before
/// anything runs, with the probe's reading now as the baseline. Runs on the target's grain, so two
/// incidents that need the same playbook on the same target never get two missions.
/// </summary>
public sealed class MissionPlanner(
    IOptionsMonitor<CatalogOptions> catalog,
    IDbContextFactory<GraceDbContext> dbFactory,
    ExecutorCatalog executors,
    ProbeReader probes,
    MissionJournal journal,
    LearnStage learn,
    Gate.PlaybookTiers tiers,
    ShadowMode shadow,
    VacuousContracts vacuous,
    Escalate.IncidentJournal incidentJournal,
    TimeProvider time,
    ILogger<MissionPlanner> logger)
{
    /// <summary>The kind of the timeline line that names an incident a mission covers besides its own.</summary>
    public const string CoversEvent = "covers";

    /// <summary>Creates the mission for an incident, unless one is already under way (then it covers the incident). Returns the new mission's id.</summary>
    public async Task<Guid?> PlanAsync(PlanRequest request, CancellationToken cancellationToken)
    {
        await using var planned = await PlanKeepingAsync(request, cancellationToken);
        return planned?.Mission.Id;
    }

    /// <summary>
    /// Plans as <see cref="PlanAsync"/> does, and hands the caller (the target's grain, ADR 0029 "The
    /// planner hands the gate what it has") the new mission as it was committed, tracked by the
    /// context that wrote it, with its contract, steps and incident, so the gate need not read it
    /// back. The caller disposes it. Null when no new mission was made.
    /// </summary>
    public async Task<PlannedMission?> PlanKeepingAsync(PlanRequest request, CancellationToken cancellationToken)
    {
        var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        try
        {
            if (await WriteAsync(db, request, cancellationToken) is not { } mission)
            {
                await db.DisposeAsync();
                return null;
            }

            // The plan's connection may have been relaxed not to flush its commit (below): it flushes every
            // commit again, as the intent must, and is given back (a context from the pool may have been
            // leased with it open, and then it stays open: ADR 0040).
            SqliteDurability.FlushEveryCommit(db);
            await db.Database.CloseConnectionAsync();
            return new PlannedMission(db, mission);
        }
        catch
        {
            await db.DisposeAsync();
            throw;
        }
    }

    private async Task<Mission?> WriteAsync(GraceDbContext db, PlanRequest request, CancellationToken cancellationToken)
    {
        var playbook = catalog.CurrentValue.Playbooks[request.PlaybookKey];
        var targetKey = request.Target;
        var steps = playbook.EffectiveSteps;
        var first = steps[0];
        var contractOptions = first.Contract!;
        var contractTarget = contractOptions.Target ?? targetKey;
        var probe = executors.Probe(contractOptions.Probe);

        var incident = await db.Incidents.SingleAsync(i => i.Id == request.IncidentId, cancellationToken);
        if (!incident.PlanPending && request.Origin != MissionOrigin.Person)
        {
            return null; // Planned already (a sweep and the live path both asked).
        }

        if (incident.Status == IncidentStatus.Resolved && request.Origin != MissionOrigin.Person)
        {
            // It ended before anyone acted. Planning took the incident as capture committed it (ADR 0036),
            // so this read, in the unit of work that would write the mission, is where a resolution since is seen.
            incident.PlanPending = false;
            incident.NextPlaybookKey = null;
            await db.SaveChangesAsync(cancellationToken);
            return null;
        }

        // One fault often raises several incidents (a crash, then its failing health check). A mission
        // already under way for this incident, or running the same playbook on the same target, covers it.
        var underWay = await db.Missions.AsNoTracking()
            .Where(m => !MissionStates.Terminal.Contains(m.State))
            .Where(m => m.IncidentId == request.IncidentId || (m.PlaybookKey == request.PlaybookKey && m.Target == targetKey))
            .Select(m => new { m.Id, m.IncidentId })
            .FirstOrDefaultAsync(cancellationToken);
        if (underWay is not null)
        {
            if (request.Origin == MissionOrigin.Person)
            {
                return null; // A person's request changes nothing while a mission is under way: the caller says which.
            }

            incident.PlanPending = false;
            incident.NextPlaybookKey = null;
            if (underWay.IncidentId != request.IncidentId)
            {
                await CoverAsync(db, incident, underWay.Id, request, targetKey, cancellationToken);
            }
            else
            {
                await db.SaveChangesAsync(cancellationToken);
            }

            return null;
        }

        // The playbook's tier and shadow toggle, as people may have changed them, in one query (ADR 0036: each
        // read on the way to a tier-0 action is a round trip, and under load a wait for a connection).
        var tierKey = Gate.PlaybookTiers.SettingKey(request.PlaybookKey);
        var shadowKey = ShadowMode.SettingKey(request.PlaybookKey);
        var settings = await db.EngineSettings.AsNoTracking()
            .Where(s => s.Key == tierKey || s.Key == shadowKey)
            .ToDictionaryAsync(s => s.Key, s => s.Value, StringComparer.Ordinal, cancellationToken);
        var tier = tiers.TierOf(request.PlaybookKey, settings.GetValueOrDefault(tierKey));
        // A person's "run now" acts: they chose to. Shadow is for what Grace would do on its own.
        var inShadow = request.Origin != MissionOrigin.Person && shadow.IsShadow(request.PlaybookKey, request.PatternKey, settings.GetValueOrDefault(shadowKey));
        var now = time.GetUtcNow();
        var mission = new Mission
        {
            Id = Guid.CreateVersion7(now),
            IncidentId = request.IncidentId,
            PatternKey = request.PatternKey,
            PlaybookKey = request.PlaybookKey,
            Action = first.Action,
            Target = targetKey,
            Parameters = JsonSerializer.Serialize(first.Parameters),
            Tier = tier,
            DryRun = playbook.DryRun || request.DryRun,
            Origin = request.Origin,
            Shadow = inShadow,
            StepCount = playbook.IsRunbook ? steps.Count : 0,
            State = MissionState.Planned,
            Stage = PipelineStage.Plan,
            RequestedBy = request.RequestedBy,
            CreatedAt = now,
            UpdatedAt = now,
        };
        var contract = new ActionContract
        {
            Id = Guid.CreateVersion7(now),
            MissionId = mission.Id,
            Probe = probe.Key,
            Target = contractTarget,
            ProbeParameters = JsonSerializer.Serialize(contractOptions.Parameters),
            Comparator = contractOptions.Comparator,
            Threshold = contractOptions.Threshold,
            DeadlineSeconds = contractOptions.DeadlineSeconds,
            Description = HumanFormat.Contract(probe.Key, contractTarget, contractOptions.Comparator, contractOptions.Threshold, probe.Unit, contractOptions.DeadlineSeconds),
        };

        var baseline = await probes.ReadAsync(new ProbeCall(probe.Key, contractTarget, new Dictionary<string, string>(contractOptions.Parameters), request.IncidentId), cancellationToken);
        contract.BaselineValue = baseline.Value;
        if (baseline.Error is { } error)
        {
            logger.LogWarning("Baseline reading of {Probe} on {Target} failed: {Error}", probe.Key, contractTarget, error);
        }

        mission.Contract = contract;
        // The mission's trace begins here (capture and diagnosis are known by now); its context is stored with the mission.
        Telemetry.MissionTracing.Begin(mission, incident, request.DiagnosedFrom, now);
        mission.ContractAtPlan = baseline.Value is null ? ContractPrecheck.Unknown
            : VacuousContracts.Holds(contract, baseline.Value) ? ContractPrecheck.AlreadyHeld : ContractPrecheck.NotHolding;
        if (playbook.IsRunbook)
        {
            for (var i = 0; i < steps.Count; i++)
            {
                var step = steps[i];
                var stepContract = step.Contract!;
                mission.Steps.Add(new MissionStep
                {
                    Id = Guid.CreateVersion7(now),
                    MissionId = mission.Id,
                    Index = i,
                    Name = step.NameAt(i),
                    Action = step.Action,
                    Target = step.Target,
                    Parameters = JsonSerializer.Serialize(step.Parameters),
                    Probe = stepContract.Probe,
                    ProbeTarget = stepContract.Target ?? step.Target,
                    ProbeParameters = JsonSerializer.Serialize(stepContract.Parameters),
                    Comparator = stepContract.Comparator,
                    Threshold = stepContract.Threshold,
                    DeadlineSeconds = stepContract.DeadlineSeconds,
                    State = RunbookStepState.Pending,
                });
            }
        }

        incident.PatternKey = request.PatternKey;
        incident.Status = IncidentStatus.Mitigating;
        incident.PlanPending = false;
        incident.NextPlaybookKey = null;
        db.Missions.Add(mission);
        var line = incidentJournal.Add(db, incident.Id, IncidentEventKind.MissionPlanned,
            $"Mission planned: '{request.PlaybookKey}' on '{targetKey}', tier {tier}" + request.Origin switch
            {
                MissionOrigin.Escalation => ", an escalation rung.",
                MissionOrigin.Person => $", run by {request.RequestedBy}{(mission.DryRun ? " as a dry run" : "")}.",
                _ => ".",
            }, actor: request.Origin == MissionOrigin.Person ? request.RequestedBy : Actor.EngineName, missionId: mission.Id, playbookKey: request.PlaybookKey);
        var entry = journal.Begin(db, mission);
        entry.Record(PipelineStage.Diagnose, "diagnosed", request.DiagnosisReason, data: new { request.PatternKey, request.RankedPlaybooks, fingerprint = incident.Fingerprint });
        entry.Record(PipelineStage.Plan, "planned",
            (playbook.IsRunbook
                ? $"Runbook '{request.PlaybookKey}' of {steps.Count} steps ({string.Join(" → ", mission.Steps.Select(st => $"{st.Index + 1} {st.Name}: {st.Action} on {st.Target}"))}), tier {tier}. Step 1's contract: {contract.Description}."
                : $"Playbook '{request.PlaybookKey}' ({first.Action} on {targetKey}, tier {tier}). Contract: {contract.Description}.")
            + (contract.BaselineValue is { } b ? $" Baseline {HumanFormat.Value(b, probe.Unit)}." : " Baseline unavailable.")
            + (mission.ContractAtPlan == ContractPrecheck.AlreadyHeld ? vacuous.PlanNote(contract, contract.BaselineValue!.Value) : "")
            + (inShadow ? " Shadow mode: Grace will gate and snapshot as usual, record what it would have done, and not act." : ""),
            MissionState.Planned, new { contract.Probe, contract.Comparator, contract.Threshold, contract.DeadlineSeconds, contract.BaselineValue, contractAtPlan = mission.ContractAtPlan.ToString(), shadow = inShadow });
        if (request.Origin != MissionOrigin.Person)
        {
            // This commit need not wait for the disk (ADR 0029): until it is there, the incident keeps
            // its durable mark to be planned, so a power loss that took the plan plans it again; and
            // nothing acts before the next flushed commit (the gate's or the intent's), which carries
            // the plan to the disk with it. A person's "run now" was answered with this mission, so it
            // is flushed as it commits.
            await SqliteDurability.FlushWithNextCommitAsync(db, cancellationToken);
        }

        await entry.SaveAsync(cancellationToken);
        incidentJournal.Publish([line]);
        return mission;
    }

    /// <summary>
    /// Joins an incident to the mission that already runs its playbook on its target: the incident is
    /// mitigating, and the mission's end settles it too. Only an event is appended, so the mission's
    /// row (and its concurrency token) is left to the mission. If the mission ended while the cover
    /// was being written, the incident is settled here at once, so no incident is left mitigating.
    /// </summary>
    private async Task CoverAsync(GraceDbContext db, Incident incident, Guid missionId, PlanRequest request, string targetKey, CancellationToken cancellationToken)
    {
        incident.PatternKey = request.PatternKey;
        incident.Status = IncidentStatus.Mitigating;
        db.MissionEvents.Add(new MissionEvent
        {
            MissionId = missionId,
            Stage = PipelineStage.Diagnose,
            Kind = CoversEvent,
            At = time.GetUtcNow(),
            Actor = Actor.EngineName,
            Message = $"Incident from {incident.Source} ('{Truncate(incident.SampleMessage, 160)}') matched pattern '{request.PatternKey}', whose playbook '{request.PlaybookKey}' this mission already runs on '{targetKey}': the mission covers it.",
            Data = JsonSerializer.Serialize(new { incidentId = incident.Id }),
            IncidentId = incident.Id,
        });
        await db.SaveChangesAsync(cancellationToken);
        logger.LogInformation("Incident {Incident} is covered by mission {Mission}, already running playbook {Playbook} on {Target}", incident.Id, missionId, request.PlaybookKey, targetKey);

        // The mission may have ended (and settled its covered incidents) between the check above and this commit.
        await using var check = await dbFactory.CreateDbContextAsync(cancellationToken);
        var mission = await check.Missions.AsNoTracking().SingleAsync(m => m.Id == missionId, cancellationToken);
        if (mission.State.IsTerminal())
        {
            await learn.SettleCoveredAsync(check, mission, cancellationToken);
            await check.SaveChangesAsync(cancellationToken);
        }
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";
}

/// <summary>
/// A mission just planned, tracked by the context that committed it (its contract, runbook steps and
/// incident with it), handed from the planner to the gate on the same target's grain. Disposing it
/// disposes the context.
/// </summary>
public sealed class PlannedMission(GraceDbContext db, Mission mission) : IAsyncDisposable
{
    public GraceDbContext Db => db;

    public Mission Mission => mission;

    public ValueTask DisposeAsync() => db.DisposeAsync();
}
