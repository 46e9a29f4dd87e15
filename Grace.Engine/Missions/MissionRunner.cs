using System.Collections.Concurrent;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Execute;
using Grace.Engine.Gate;
using Grace.Engine.Learn;
using Grace.Engine.Notifications;
using Grace.Engine.Snapshot;
using Grace.Engine.Verify;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Missions;

/// <summary>
/// Hosts the mission state machine. Missions to advance arrive on a queue (from capture, from an
/// approval, from the periodic sweep); each is claimed with a lease in the database so that two
/// instances never run the same step, then moved state by state until it must wait or ends.
/// </summary>
/// <remarks>
/// Before an action runs, the mission is committed in <see cref="MissionState.Executing"/> with an
/// intent event. A mission found in that state after a restart is verified, never run again.
/// </remarks>
public sealed class MissionRunner(
    IDbContextFactory<GraceDbContext> dbFactory,
    IOptionsMonitor<EngineOptions> options,
    IOptionsMonitor<CatalogOptions> catalog,
    PolicyGate gate,
    ApprovalService approvals,
    SnapshotService snapshots,
    ExecutorCatalog executors,
    ActionResilience resilience,
    ContractVerifier verifier,
    LearningService learning,
    MissionJournal journal,
    MissionQueue queue,
    Verify.Benchmarks.BenchmarkStage benchmarks,
    TimeProvider time,
    ILogger<MissionRunner> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<Guid, Task> _running = new();
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _targetLocks = new(StringComparer.OrdinalIgnoreCase);
    private readonly string _instance = options.CurrentValue.InstanceName ?? $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>The name this instance writes into mission leases.</summary>
    public string InstanceName => _instance;

    /// <summary>Closes expired approvals and re-queues every mission that can move (after a restart, a deferral, a lost lease).</summary>
    public async Task SweepOnceAsync(CancellationToken cancellationToken)
    {
        await approvals.ExpireDueAsync(cancellationToken);
        var now = time.GetUtcNow();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var movable = await db.Missions.AsNoTracking()
            .Where(m => m.State == MissionState.Planned || m.State == MissionState.Approved || m.State == MissionState.Executing || m.State == MissionState.Verifying)
            .Where(m => m.LeaseExpiresAt == null || m.LeaseExpiresAt < now || m.LeaseOwner == _instance)
            .OrderBy(m => m.CreatedAt)
            .Select(m => m.Id)
            .Take(500)
            .ToListAsync(cancellationToken);
        // Finished missions that were not learned yet (the host stopped between the two commits).
        var unlearned = await db.Missions.AsNoTracking()
            .Where(m => m.CompletedAt != null && !db.Outcomes.Any(o => o.MissionId == m.Id))
            .OrderBy(m => m.CompletedAt)
            .Select(m => m.Id).Take(100).ToListAsync(cancellationToken);
        foreach (var id in movable.Concat(unlearned).Where(id => !_running.ContainsKey(id)))
        {
            queue.Enqueue(id);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var sweeper = SweepLoopAsync(stoppingToken);
        using var slots = new SemaphoreSlim(options.CurrentValue.MaxConcurrentMissions);
        try
        {
            await foreach (var id in queue.ReadAllAsync(stoppingToken))
            {
                if (_running.ContainsKey(id))
                {
                    continue;
                }

                await slots.WaitAsync(stoppingToken);
                var work = Task.Run(async () =>
                {
                    try
                    {
                        await AdvanceAsync(id, stoppingToken);
                    }
                    finally
                    {
                        slots.Release();
                    }
                }, CancellationToken.None);
                _running[id] = work;
                _ = work.ContinueWith(_ => _running.TryRemove(id, out Task? _), TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await Task.WhenAll(_running.Values.Append(sweeper));
    }

    private async Task SweepLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SweepOnceAsync(stoppingToken);
                await Task.Delay(TimeSpan.FromSeconds(options.CurrentValue.SweepIntervalSeconds), time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Mission sweep failed; trying again");
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(options.CurrentValue.SweepIntervalSeconds), time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Moves one mission as far as it can go now.</summary>
    internal async Task AdvanceAsync(Guid missionId, CancellationToken cancellationToken)
    {
        try
        {
            if (!await TryClaimAsync(missionId, cancellationToken))
            {
                return;
            }

            try
            {
                for (var step = 0; step < 16 && await StepAsync(missionId, cancellationToken); step++)
                {
                }
            }
            finally
            {
                await ReleaseAsync(missionId);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // One mission's failure never stops the loop; the sweep will try it again.
            logger.LogError(ex, "Advancing mission {MissionId} failed", missionId);
        }
    }

    private async Task<bool> TryClaimAsync(Guid missionId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var until = now.AddSeconds(options.CurrentValue.LeaseSeconds);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var claimed = await db.Missions
            .Where(m => m.Id == missionId && (m.LeaseOwner == null || m.LeaseOwner == _instance || m.LeaseExpiresAt < now))
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LeaseOwner, _instance).SetProperty(m => m.LeaseExpiresAt, until), cancellationToken);
        return claimed == 1;
    }

    private async Task ReleaseAsync(Guid missionId)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        await db.Missions.Where(m => m.Id == missionId && m.LeaseOwner == _instance)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LeaseOwner, (string?)null).SetProperty(m => m.LeaseExpiresAt, (DateTimeOffset?)null));
    }

    private async Task RenewLeaseAsync(Guid missionId, CancellationToken cancellationToken)
    {
        var until = time.GetUtcNow().AddSeconds(options.CurrentValue.LeaseSeconds);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        await db.Missions.Where(m => m.Id == missionId && m.LeaseOwner == _instance)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LeaseExpiresAt, until), cancellationToken);
    }

    /// <summary>One transition. Returns true when the mission can move again right away.</summary>
    private async Task<bool> StepAsync(Guid missionId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var mission = await db.Missions
            .Include(m => m.Contract)
            .Include(m => m.Approval!).ThenInclude(a => a.Decisions)
            .Include(m => m.Incident)
            .AsSplitQuery()
            .SingleOrDefaultAsync(m => m.Id == missionId, cancellationToken);
        if (mission is null)
        {
            return false;
        }

        var entry = journal.Begin(db, mission);
        switch (mission.State)
        {
            case MissionState.Planned:
                return await GateAsync(db, entry, cancellationToken);
            case MissionState.AwaitingApproval:
                return false; // ApprovalService moves it on; the sweep expires it.
            case MissionState.Approved:
                return await ExecuteAsync(db, entry, cancellationToken);
            case MissionState.Executing:
                mission.Contract!.Deadline ??= time.GetUtcNow().AddSeconds(mission.Contract.DeadlineSeconds);
                entry.Record(PipelineStage.Execute, "recovered",
                    "The host stopped while the action was running. It is not run again: its effect is verified instead.", MissionState.Verifying);
                await entry.SaveAsync(cancellationToken);
                return true;
            case MissionState.Verifying:
                return await VerifyAsync(db, entry, cancellationToken);
            default:
                await LearnAsync(db, mission, cancellationToken);
                return false;
        }
    }

    /// <summary>Runs a policy decision and what follows it alone on its target, so two missions never both pass the same check.</summary>
    private async Task<bool> WithTargetLockAsync(string target, Func<Task<bool>> step, CancellationToken cancellationToken)
    {
        var targetLock = _targetLocks.GetOrAdd(target, _ => new SemaphoreSlim(1, 1));
        await targetLock.WaitAsync(cancellationToken);
        try
        {
            return await step();
        }
        finally
        {
            targetLock.Release();
        }
    }

    private async Task<bool> GateAsync(GraceDbContext db, MissionJournal.Entry entry, CancellationToken cancellationToken)
    {
        try
        {
            return await WithTargetLockAsync(entry.Mission.Target, () => GateLockedAsync(db, entry, cancellationToken), cancellationToken);
        }
        catch (Exception ex) when (ex is ActionRefusedException or InvalidOperationException)
        {
            entry.Mission.StatusReason = ex.Message;
            entry.Record(PipelineStage.Snapshot, "refused", $"No safe-hold snapshot could be taken for the approvers, so nothing will run: {ex.Message}", MissionState.Failed);
            await entry.SaveAsync(cancellationToken);
            return true;
        }
    }

    private async Task<bool> GateLockedAsync(GraceDbContext db, MissionJournal.Entry entry, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;
        if (!catalog.CurrentValue.Playbooks.TryGetValue(mission.PlaybookKey, out _))
        {
            entry.Record(PipelineStage.Gate, "blocked", $"Playbook '{mission.PlaybookKey}' is no longer configured.", MissionState.Blocked);
            await entry.SaveAsync(cancellationToken);
            return true;
        }

        var decision = await gate.EvaluateAsync(db, mission, cancellationToken);
        switch (decision.Verdict)
        {
            case GateVerdict.Block:
                mission.StatusReason = decision.Reason;
                if (mission.Incident is { } blockedIncident)
                {
                    blockedIncident.Status = IncidentStatus.Open;
                }

                entry.Record(PipelineStage.Gate, "blocked", decision.Reason, MissionState.Blocked);
                await entry.SaveAsync(cancellationToken);
                return true;
            case GateVerdict.Defer:
                if (mission.StatusReason != decision.Reason)
                {
                    mission.StatusReason = decision.Reason;
                    entry.Record(PipelineStage.Gate, "deferred", decision.Reason);
                    await entry.SaveAsync(cancellationToken);
                }

                return false;
        }

        mission.StatusReason = null;
        mission.DryRun = decision.DryRun;
        var now = time.GetUtcNow();
        switch (mission.Tier)
        {
            case 0:
                entry.Record(PipelineStage.Gate, "cleared", $"{decision.Reason} Tier 0: runs without approval.", MissionState.Approved);
                break;
            case 1:
                entry.Record(PipelineStage.Gate, "cleared", $"{decision.Reason} Tier 1: runs now; operators are notified.", MissionState.Approved);
                entry.Also(new OperatorNotification(now, mission.Id, $"Tier 1 action '{mission.PlaybookKey}' on '{mission.Target}' is running."));
                break;
            default:
                var (_, state) = await snapshots.TakeAsync(db, mission, SnapshotService.ForApproval, cancellationToken);
                var required = mission.Tier >= 3 ? 2 : 1;
                var expires = now.AddMinutes(options.CurrentValue.ApprovalTimeoutMinutes);
                mission.Approval = new Approval
                {
                    Id = Guid.CreateVersion7(now),
                    MissionId = mission.Id,
                    RequiredCount = required,
                    RequestedBy = mission.RequestedBy,
                    RequestedAt = now,
                    ExpiresAt = expires,
                    Status = ApprovalStatus.Pending,
                };
                // Added explicitly: a new row with its key already set would otherwise be taken for an existing one.
                db.Approvals.Add(mission.Approval);
                entry.Record(PipelineStage.Snapshot, "snapshot", $"Safe-hold snapshot for the approvers: {state.Summary}");
                entry.Record(PipelineStage.Gate, "awaiting-approval",
                    $"{decision.Reason} Tier {mission.Tier}: waits for {required} distinct approver(s) until {expires:u}.", MissionState.AwaitingApproval);
                entry.Also(new ApprovalRequested(now, mission.Id, mission.PlaybookKey, mission.Target, mission.Tier, required, expires));
                await entry.SaveAsync(cancellationToken);
                return false;
        }

        await entry.SaveAsync(cancellationToken);
        return true;
    }

    private Task<bool> ExecuteAsync(GraceDbContext db, MissionJournal.Entry entry, CancellationToken cancellationToken) =>
        WithTargetLockAsync(entry.Mission.Target, () => ExecuteLockedAsync(db, entry, cancellationToken), cancellationToken);

    private async Task<bool> ExecuteLockedAsync(GraceDbContext db, MissionJournal.Entry entry, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;

        // Policy again, right before acting: the kill switch may have been engaged, or another
        // mission may have run on the target, while this one waited for its approvers.
        var decision = await gate.EvaluateAsync(db, mission, cancellationToken, beforeAction: true);
        if (decision.Verdict == GateVerdict.Block)
        {
            mission.StatusReason = decision.Reason;
            entry.Record(PipelineStage.Gate, "blocked", $"{decision.Reason} Nothing ran.", MissionState.Blocked);
            await entry.SaveAsync(cancellationToken);
            return true;
        }

        if (decision.Verdict == GateVerdict.Defer)
        {
            return false;
        }

        var executor = executors.Executor(mission.Action);
        ActionRequest request;
        SnapshotState state;
        Data.Entities.Snapshot snapshotRow;
        try
        {
            request = snapshots.RequestFor(mission);
            // Safe-hold right before acting; if the state moved since the approvers saw it, their approval is void.
            (snapshotRow, state) = await snapshots.TakeAsync(db, mission, SnapshotService.PreExecution, cancellationToken);
        }
        catch (Exception ex) when (ex is ActionRefusedException or InvalidOperationException)
        {
            mission.StatusReason = ex.Message;
            entry.Record(PipelineStage.Snapshot, "refused", $"No safe-hold snapshot could be taken, so nothing ran: {ex.Message}", MissionState.Failed);
            await entry.SaveAsync(cancellationToken);
            return true;
        }

        entry.Record(PipelineStage.Snapshot, "snapshot", $"Safe-hold snapshot: {state.Summary}", data: new { snapshotId = snapshotRow.Id });
        if (mission.Approval is { Status: ApprovalStatus.Approved } approval)
        {
            var approvedRow = await db.Snapshots.AsNoTracking()
                .Where(s => s.MissionId == mission.Id && s.Purpose == SnapshotService.ForApproval)
                .OrderByDescending(s => s.TakenAt).FirstOrDefaultAsync(cancellationToken);
            if (approvedRow is not null && SnapshotService.Read(approvedRow).DriftKey != state.DriftKey)
            {
                approval.Status = ApprovalStatus.Voided;
                approval.ClosedAt = time.GetUtcNow();
                mission.StatusReason = "The target changed after the approval; the approval is void.";
                entry.Record(PipelineStage.Gate, "voided",
                    $"The target changed since the approvers saw it: {executor.DescribeDrift(SnapshotService.Read(approvedRow), state)}. The approval is void and nothing ran.",
                    MissionState.Blocked);
                await entry.SaveAsync(cancellationToken);
                return true;
            }
        }

        if (mission.DryRun)
        {
            entry.Record(PipelineStage.Execute, "dry-run", $"Dry run: would run {executor.Describe(request)}", MissionState.DryRunCompleted);
            await entry.SaveAsync(cancellationToken);
            return true;
        }

        await benchmarks.SampleBeforeAsync(db, entry, cancellationToken);

        // The intent is committed before the action: after a crash the mission is verified, not re-run.
        mission.ExecutedAt = time.GetUtcNow();
        entry.Record(PipelineStage.Execute, "intent", $"About to run: {executor.Describe(request)}", MissionState.Executing);
        await entry.SaveAsync(cancellationToken);
        await RenewLeaseAsync(mission.Id, cancellationToken);

        try
        {
            var result = await resilience.ForAction(mission.Target).ExecuteAsync(
                ct => new ValueTask<ActionResult>(executor.ExecuteAsync(request, state, ct)), cancellationToken);
            mission.Contract!.Deadline = time.GetUtcNow().AddSeconds(mission.Contract.DeadlineSeconds);
            entry.Record(PipelineStage.Execute, "executed", result.Message, MissionState.Verifying, result.Data);
            await entry.SaveAsync(cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            mission.StatusReason = ex.Message;
            entry.Record(PipelineStage.Execute, ex is ActionRefusedException ? "refused" : "failed", $"The action failed: {ex.Message}",
                data: new { error = ex.GetType().Name, ex.Message });
            await RollbackAsync(entry, executor, request, state, "the action failed", cancellationToken);
            await entry.SaveAsync(cancellationToken);
            return true;
        }
    }

    private async Task<bool> VerifyAsync(GraceDbContext db, MissionJournal.Entry entry, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;
        var contract = mission.Contract!;
        contract.Deadline ??= time.GetUtcNow().AddSeconds(contract.DeadlineSeconds);
        var unit = verifier.UnitOf(contract);
        double? lastLogged = null;
        var lastLoggedAt = DateTimeOffset.MinValue;
        var lastRenewal = time.GetUtcNow();
        while (true)
        {
            double? observed = null;
            string? error = null;
            try
            {
                observed = await verifier.ReadAsync(contract, mission.IncidentId, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                error = ex.Message;
            }

            var now = time.GetUtcNow();
            if (observed is { } value)
            {
                contract.ObservedValue = value;
                var holds = ContractVerifier.Holds(contract.Comparator, value, contract.Threshold);
                if (holds && await benchmarks.SampleAfterAsync(db, entry, cancellationToken) is { } regression)
                {
                    // The contract held but the target got slower: undo it like a failed contract.
                    contract.Verdict = ContractVerdict.Met;
                    contract.VerifiedAt = now;
                    mission.StatusReason = regression;
                    await RollbackFromSnapshotAsync(db, entry, "a benchmark regression", now, cancellationToken);
                    await entry.SaveAsync(cancellationToken);
                    return true;
                }

                if (holds)
                {
                    contract.Verdict = ContractVerdict.Met;
                    contract.VerifiedAt = now;
                    entry.Record(PipelineStage.Verify, "contract-met",
                        $"Contract met: {contract.Probe} = {value:G} {unit} (expected {ContractVerifier.Symbol(contract.Comparator)} {contract.Threshold:G}; baseline {contract.BaselineValue?.ToString("G") ?? "n/a"}).",
                        MissionState.Succeeded, new { observed = value, contract.Threshold, contract.BaselineValue });
                    if (mission.Incident is { } incident)
                    {
                        incident.Status = IncidentStatus.Resolved;
                        incident.ResolvedAt = now;
                    }

                    // Success is committed first: the quarantine is released only once nothing can roll back any more.
                    await entry.SaveAsync(cancellationToken);
                    await CommitSnapshotAsync(db, mission, cancellationToken);
                    return true;
                }

                // The first reading, then at most one line every 10 s: the timeline is evidence, not a log.
                if (lastLogged is null || (lastLogged != value && now - lastLoggedAt >= TimeSpan.FromSeconds(10)))
                {
                    lastLogged = value;
                    lastLoggedAt = now;
                    entry.Record(PipelineStage.Verify, "probe", $"{contract.Probe} = {value:G} {unit}; waiting for {ContractVerifier.Symbol(contract.Comparator)} {contract.Threshold:G} until {contract.Deadline:u}.",
                        data: new { observed = value });
                    await entry.SaveAsync(cancellationToken);
                }
            }

            if (now >= contract.Deadline)
            {
                contract.Verdict = ContractVerdict.Failed;
                contract.VerifiedAt = now;
                var reason = observed is { } v
                    ? $"Contract failed: {contract.Probe} = {v:G} {unit} at the deadline, expected {ContractVerifier.Symbol(contract.Comparator)} {contract.Threshold:G}."
                    : $"Contract failed: the probe could not be read before the deadline ({error}).";
                mission.StatusReason = reason;
                entry.Record(PipelineStage.Verify, "contract-failed", reason, data: new { observed, contract.Threshold });
                await RollbackFromSnapshotAsync(db, entry, "the contract failed", now, cancellationToken);

                if (mission.Incident is { } incident)
                {
                    incident.Status = IncidentStatus.Open;
                }

                await entry.SaveAsync(cancellationToken);
                return true;
            }

            if (now - lastRenewal > TimeSpan.FromSeconds(options.CurrentValue.LeaseSeconds / 3.0))
            {
                await RenewLeaseAsync(mission.Id, cancellationToken);
                lastRenewal = now;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(options.CurrentValue.VerifyPollIntervalMilliseconds), time, cancellationToken);
        }
    }

    private async Task RollbackAsync(MissionJournal.Entry entry, IRemediationExecutor executor, ActionRequest request, SnapshotState? state, string why, CancellationToken cancellationToken)
    {
        if (!executor.CanRollback || state is null)
        {
            entry.Record(PipelineStage.Rollback, "no-rollback",
                $"{executor.Action} cannot be undone, so nothing was rolled back after {why}; a person should look.", MissionState.Failed);
            return;
        }

        try
        {
            var restored = await resilience.ForRollback(entry.Mission.Target).ExecuteAsync(
                async ct => await executor.RollbackAsync(request, state, ct), cancellationToken);
            entry.Record(PipelineStage.Rollback, "rolled-back", $"Rolled back from the snapshot after {why}: {restored}", MissionState.RolledBack);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            entry.Record(PipelineStage.Rollback, "rollback-failed", $"The rollback after {why} failed: {ex.Message}. A person must restore the target.", MissionState.Failed);
        }
    }

    /// <summary>Restores the pre-execution snapshot after an action ran, and marks the snapshot restored.</summary>
    private async Task RollbackFromSnapshotAsync(GraceDbContext db, MissionJournal.Entry entry, string why, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var mission = entry.Mission;
        var snapshotRow = await LatestSnapshotAsync(db, mission.Id, cancellationToken);
        await RollbackAsync(entry, executors.Executor(mission.Action), snapshots.RequestFor(mission),
            snapshotRow is null ? null : SnapshotService.Read(snapshotRow), why, cancellationToken);
        if (snapshotRow is not null && mission.State == MissionState.RolledBack)
        {
            snapshotRow.RestoredAt = now;
        }
    }

    private async Task CommitSnapshotAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        var row = await LatestSnapshotAsync(db, mission.Id, cancellationToken);
        if (row is null)
        {
            return;
        }

        try
        {
            await executors.Executor(mission.Action).CommitAsync(snapshots.RequestFor(mission), SnapshotService.Read(row), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Releasing the snapshot of mission {MissionId} failed", mission.Id);
        }
    }

    private static Task<Data.Entities.Snapshot?> LatestSnapshotAsync(GraceDbContext db, Guid missionId, CancellationToken cancellationToken) =>
        db.Snapshots.Where(s => s.MissionId == missionId && s.Purpose == SnapshotService.PreExecution)
            .OrderByDescending(s => s.TakenAt).FirstOrDefaultAsync(cancellationToken);

    private async Task LearnAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        var (recorded, update) = await learning.RecordAsync(db, mission, cancellationToken);
        if (!recorded)
        {
            return;
        }

        // One line per finished mission, so the console log alone tells what Grace did.
        logger.LogInformation("Mission {MissionId} ({Playbook} on {Target}, tier {Tier}) ended {State}{Reason}",
            mission.Id, mission.PlaybookKey, mission.Target, mission.Tier, mission.State, mission.StatusReason is { Length: > 0 } r ? $": {r}" : "");

        if (mission.State != MissionState.Succeeded && mission.Incident is { Status: IncidentStatus.Mitigating } incident)
        {
            incident.Status = IncidentStatus.Open;
        }

        await SettleCoveredIncidentsAsync(db, mission, cancellationToken);

        var entry = journal.Begin(db, mission);
        entry.Record(PipelineStage.Learn, "learned", update is null
            ? $"Outcome recorded: {mission.State}. Nothing ran, so the playbook's statistics are unchanged."
            : $"Outcome recorded: {mission.State}. Playbook '{mission.PlaybookKey}' on pattern '{mission.PatternKey}': {update.Runs} runs, {update.SuccessRate:P0} success, confidence {update.Confidence:P0}.");
        await entry.SaveAsync(cancellationToken);
        learning.Publish(update);
    }

    /// <summary>Incidents the planner joined to this mission end with it: resolved when it succeeded, open again otherwise.</summary>
    private async Task SettleCoveredIncidentsAsync(GraceDbContext db, Mission mission, CancellationToken cancellationToken)
    {
        var covered = await db.MissionEvents.AsNoTracking()
            .Where(e => e.MissionId == mission.Id && e.Kind == Plan.MissionPlanner.CoversEvent && e.Data != null)
            .Select(e => e.Data!)
            .ToListAsync(cancellationToken);
        var ids = covered.Select(d => System.Text.Json.JsonDocument.Parse(d).RootElement.GetProperty("incidentId").GetGuid()).ToList();
        if (ids.Count == 0)
        {
            return;
        }

        var now = time.GetUtcNow();
        foreach (var incident in await db.Incidents.Where(i => ids.Contains(i.Id) && i.Status == IncidentStatus.Mitigating).ToListAsync(cancellationToken))
        {
            incident.Status = mission.State == MissionState.Succeeded ? IncidentStatus.Resolved : IncidentStatus.Open;
            incident.ResolvedAt = mission.State == MissionState.Succeeded ? now : null;
        }
    }
}
