using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Execute;
using Grace.Engine.Formatting;
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
    TimeProvider time,
    Telemetry.GraceMetrics? metrics = null)
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
        var label = Runbooks.Label(mission);
        var step = Runbooks.CurrentStep(mission);
        contract.ObservedValue = reading.Observed ?? contract.ObservedValue;
        contract.VerifiedAt = now;
        if (step is not null)
        {
            step.ObservedValue = contract.ObservedValue;
        }

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
                metrics?.Verdict(ContractVerdict.Met, mission.PlaybookKey);
                return StepOutcome.Moved;
            }

            if (step is not null)
            {
                step.State = RunbookStepState.Succeeded;
                step.EndedAt = now;
            }

            if (Runbooks.HasNextStep(mission))
            {
                // A runbook step held: the next step's action runs next, on its own target's grain; snapshots are kept until the last step holds.
                entry.Record(PipelineStage.Verify, "step-met",
                    $"{label}Contract met: {contract.Probe} read {Read(reading.Observed, unit)} (expected {HumanFormat.Rule(contract.Comparator, contract.Threshold, unit)}).",
                    data: new { step = step!.Index + 1, observed = reading.Observed, contract.Threshold });
                var next = Runbooks.Advance(mission, "");
                contract.Description = HumanFormat.Contract(next.Probe, next.ProbeTarget, next.Comparator, next.Threshold, verifier.UnitOf(contract), next.DeadlineSeconds);
                entry.Record(PipelineStage.Execute, "next-step",
                    $"{Runbooks.Label(mission)}next: {next.Action} on {next.Target}. Contract: {contract.Description}.", MissionState.Approved);
                await entry.SaveAsync(cancellationToken);
                metrics?.Verdict(ContractVerdict.Met, mission.PlaybookKey);
                return StepOutcome.Moved;
            }

            entry.Record(PipelineStage.Verify, "contract-met",
                $"{label}Contract met: {contract.Probe} read {Read(reading.Observed, unit)} (expected {HumanFormat.Rule(contract.Comparator, contract.Threshold, unit)}; baseline {Read(contract.BaselineValue, unit)}).",
                MissionState.Succeeded, new { observed = reading.Observed, contract.Threshold, contract.BaselineValue });
            if (mission.Incident is { } incident)
            {
                incident.Status = IncidentStatus.Resolved;
                incident.ResolvedAt = now;
            }

            // Success is committed first: the quarantine is released only once nothing can roll back any more.
            await entry.SaveAsync(cancellationToken);
            metrics?.Verdict(ContractVerdict.Met, mission.PlaybookKey);
            await rollbacks.CommitAsync(db, mission, cancellationToken);
            return StepOutcome.Moved;
        }

        contract.Verdict = ContractVerdict.Failed;
        var reason = reading.Observed is { } v
            ? $"Contract failed: {contract.Probe} read {HumanFormat.Value(v, unit)} at the deadline, expected {HumanFormat.Rule(contract.Comparator, contract.Threshold, unit)}."
            : $"Contract failed: the probe could not be read before the deadline ({reading.Error}).";
        mission.StatusReason = reason;
        entry.Record(PipelineStage.Verify, "contract-failed", label + reason, data: new { observed = reading.Observed, contract.Threshold });
        await rollbacks.RollbackFromSnapshotAsync(db, entry, "the contract failed", now, cancellationToken);
        ReopenIncident(mission);
        await entry.SaveAsync(cancellationToken);
        metrics?.Verdict(ContractVerdict.Failed, mission.PlaybookKey);
        return StepOutcome.Moved;
    }

    private static string Read(double? value, string unit) => value is { } v ? HumanFormat.Value(v, unit) : "n/a";

    private static void ReopenIncident(Mission mission)
    {
        if (mission.Incident is { } incident)
        {
            incident.Status = IncidentStatus.Open;
        }
    }
}
