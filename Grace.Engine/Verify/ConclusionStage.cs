using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Execute;
using Grace.Engine.Missions;
using Microsoft.EntityFrameworkCore;

namespace Grace.Engine.Verify;

/// <summary>What the contract's probe said when the mission grain stopped waiting.</summary>
[GenerateSerializer, Immutable]
public sealed record ContractReading(ContractVerdict Verdict, double? Observed, string? Error);

/// <summary>
/// Ends a verification on the target's grain: a contract that held is checked against the
/// target's benchmarks (a regression rolls back like a failed contract) and then committed; a
/// contract that failed rolls back from the safe-hold snapshot.
/// </summary>
public sealed class ConclusionStage(
    IDbContextFactory<GraceDbContext> dbFactory,
    ContractVerifier verifier,
    Benchmarks.BenchmarkStage benchmarks,
    Rollbacks rollbacks,
    MissionJournal journal,
    TimeProvider time)
{
    public async Task<StepOutcome> ConcludeAsync(Guid missionId, ContractReading reading, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (await MissionStore.LoadAsync(db, missionId, cancellationToken) is not { State: MissionState.Verifying } mission)
        {
            return StepOutcome.Moved;
        }

        var contract = mission.Contract!;
        var entry = journal.Begin(db, mission);
        var now = time.GetUtcNow();
        var unit = verifier.UnitOf(contract);
        contract.ObservedValue = reading.Observed ?? contract.ObservedValue;
        contract.VerifiedAt = now;
        if (reading.Verdict == ContractVerdict.Met)
        {
            contract.Verdict = ContractVerdict.Met;
            if (await benchmarks.SampleAfterAsync(db, entry, cancellationToken) is { } regression)
            {
                // The contract held but the target got slower: undo it like a failed contract.
                mission.StatusReason = regression;
                await rollbacks.RollbackFromSnapshotAsync(db, entry, "a benchmark regression", now, cancellationToken);
                ReopenIncident(mission);
                await entry.SaveAsync(cancellationToken);
                return StepOutcome.Moved;
            }

            entry.Record(PipelineStage.Verify, "contract-met",
                $"Contract met: {contract.Probe} = {reading.Observed:G} {unit} (expected {ContractVerifier.Symbol(contract.Comparator)} {contract.Threshold:G}; baseline {contract.BaselineValue?.ToString("G") ?? "n/a"}).",
                MissionState.Succeeded, new { observed = reading.Observed, contract.Threshold, contract.BaselineValue });
            if (mission.Incident is { } incident)
            {
                incident.Status = IncidentStatus.Resolved;
                incident.ResolvedAt = now;
            }

            // Success is committed first: the quarantine is released only once nothing can roll back any more.
            await entry.SaveAsync(cancellationToken);
            await rollbacks.CommitAsync(db, mission, cancellationToken);
            return StepOutcome.Moved;
        }

        contract.Verdict = ContractVerdict.Failed;
        var reason = reading.Observed is { } v
            ? $"Contract failed: {contract.Probe} = {v:G} {unit} at the deadline, expected {ContractVerifier.Symbol(contract.Comparator)} {contract.Threshold:G}."
            : $"Contract failed: the probe could not be read before the deadline ({reading.Error}).";
        mission.StatusReason = reason;
        entry.Record(PipelineStage.Verify, "contract-failed", reason, data: new { observed = reading.Observed, contract.Threshold });
        await rollbacks.RollbackFromSnapshotAsync(db, entry, "the contract failed", now, cancellationToken);
        ReopenIncident(mission);
        await entry.SaveAsync(cancellationToken);
        return StepOutcome.Moved;
    }

    private static void ReopenIncident(Mission mission)
    {
        if (mission.Incident is { } incident)
        {
            incident.Status = IncidentStatus.Open;
        }
    }
}
