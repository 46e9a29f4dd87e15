using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Configuration;
using Grace.Engine.Verify;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Missions.Steps;

/// <summary>
/// Verifying: one reading of the contract's probe per turn. It holds: the target's grain
/// concludes (benchmarks, commit). The deadline passed: it concludes with a failure (rollback).
/// Otherwise the mission waits on a timer for the next reading, holding nothing.
/// </summary>
public sealed class VerifyingStep(
    IDbContextFactory<GraceDbContext> dbFactory,
    ProbeReader probes,
    ContractVerifier verifier,
    MissionJournal journal,
    IOptionsMonitor<EngineOptions> options,
    TimeProvider time) : IMissionStep
{
    public async Task<StepOutcome> RunAsync(MissionStepContext context, CancellationToken cancellationToken)
    {
        ActionContract contract;
        Guid incidentId;
        DateTimeOffset? executedAt;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            var mission = await db.Missions.AsNoTracking().Include(m => m.Contract).SingleAsync(m => m.Id == context.MissionId, cancellationToken);
            contract = mission.Contract!;
            incidentId = mission.IncidentId;
            executedAt = mission.ExecutedAt;
        }

        var reading = await probes.ReadAsync(ContractVerifier.CallFor(contract, incidentId), cancellationToken);
        var now = time.GetUtcNow();
        var deadline = contract.Deadline ?? (executedAt ?? now).AddSeconds(contract.DeadlineSeconds);
        if (reading.Value is { } value && ContractVerifier.Holds(contract.Comparator, value, contract.Threshold))
        {
            return await context.Target.ConcludeAsync(context.MissionId, new ContractReading(ContractVerdict.Met, value, null));
        }

        if (now >= deadline)
        {
            return await context.Target.ConcludeAsync(context.MissionId, new ContractReading(ContractVerdict.Failed, reading.Value, reading.Error));
        }

        // The first reading, then at most one line every 10 s: the timeline is evidence, not a log.
        var progress = context.Progress;
        if (reading.Value is { } v && (progress.LastLogged is null || (progress.LastLogged != v && now - progress.LastLoggedAt >= TimeSpan.FromSeconds(10))))
        {
            progress.LastLogged = v;
            progress.LastLoggedAt = now;
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            var mission = await db.Missions.SingleAsync(m => m.Id == context.MissionId, cancellationToken);
            var entry = journal.Begin(db, mission);
            entry.Record(PipelineStage.Verify, "probe",
                $"{contract.Probe} = {v:G} {verifier.UnitOf(contract)}; waiting for {ContractVerifier.Symbol(contract.Comparator)} {contract.Threshold:G} until {deadline:u}.",
                data: new { observed = v });
            await entry.SaveAsync(cancellationToken);
        }

        var next = now.AddMilliseconds(options.CurrentValue.VerifyPollIntervalMilliseconds);
        return StepOutcome.WaitUntil(next < deadline ? next : deadline);
    }
}
