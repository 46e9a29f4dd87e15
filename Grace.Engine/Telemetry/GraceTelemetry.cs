using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grace.Data.Entities;

namespace Grace.Engine.Telemetry;

/// <summary>
/// Grace's own traces and metrics, in the BCL's types (<see cref="ActivitySource"/>, <see cref="Meter"/>):
/// the engine depends on no exporter; Grace.Web's <c>AddGraceTelemetry()</c> wires OpenTelemetry to
/// these names. A mission is one trace (see <see cref="MissionTracing"/>).
/// </summary>
public sealed class GraceMetrics : IDisposable
{
    /// <summary>The <see cref="ActivitySource"/> of the mission traces.</summary>
    public const string ActivitySourceName = "Grace.Engine";

    /// <summary>The <see cref="Meter"/> of Grace's metrics.</summary>
    public const string MeterName = "Grace";

    /// <summary>The one source of mission spans.</summary>
    public static readonly ActivitySource ActivitySource = new(ActivitySourceName, typeof(GraceMetrics).Assembly.GetName().Version?.ToString());

    private readonly Meter _meter;
    private readonly Counter<long> _missions;
    private readonly Histogram<double> _actionDuration;
    private readonly Histogram<double> _verificationDuration;
    private readonly Counter<long> _verdicts;
    private readonly Histogram<double> _timeToRecover;

    public GraceMetrics(IMeterFactory meters, Capture.SignalIntake intake, Capture.CaptureCounters capture, TelemetrySnapshot snapshot)
    {
        _meter = meters.Create(MeterName);
        _meter.CreateObservableCounter("grace.signals.accepted", () => intake.Accepted, "{signal}", "Signals this instance accepted into its intake.");
        _meter.CreateObservableCounter("grace.signals.dropped", () => intake.Dropped, "{signal}", "Signals this instance refused because its intake was full.");
        _meter.CreateObservableCounter("grace.signals.lost", () => capture.Failed, "{signal}", "Accepted signals lost because Grace stopped before storing them.");
        // Database-wide figures: only the instance holding the cluster's reader reports a point (the others
        // report none), so sum() over instances is the database's figure (ADR draft-cluster-gauges).
        _meter.CreateObservableGauge("grace.incidents.open", () => Point(snapshot.Current?.OpenIncidents), "{incident}",
            "Incidents not resolved (open or being mitigated), in the whole database. Reported by one instance of a cluster at a time: sum() or max() over instances.");
        _meter.CreateObservableGauge("grace.approvals.pending", () => Point(snapshot.Current?.PendingApprovals), "{approval}",
            "Missions waiting for approvers, in the whole database. Reported by one instance of a cluster at a time: sum() or max() over instances.");
        _meter.CreateObservableGauge("grace.approvals.oldest_age", () => Point(snapshot.Current?.OldestPendingSeconds), "s",
            "Age of the oldest pending approval (0 when none). Reported by one instance of a cluster at a time: max() over instances.");
        _missions = _meter.CreateCounter<long>("grace.missions", "{mission}", "Missions that entered a state, by state and playbook.");
        _actionDuration = _meter.CreateHistogram<double>("grace.action.duration", "s", "Time a mission spent acting (the action, or a runbook step's).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] });
        _verificationDuration = _meter.CreateHistogram<double>("grace.verification.duration", "s", "Time from the action's end until its contract held or failed.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900] });
        _verdicts = _meter.CreateCounter<long>("grace.contract.verdicts", "{verdict}", "Contract verdicts: met or failed, by playbook.");
        _timeToRecover = _meter.CreateHistogram<double>("grace.time_to_recover", "s", "From an incident's first signal to the verified contract of the mission that healed it.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200] });
    }

    // No point at all (not a zero) on an instance that does not hold the figures.
    private static IEnumerable<Measurement<T>> Point<T>(T? value) where T : struct => value is { } v ? [new Measurement<T>(v)] : [];

    internal void MissionEntered(MissionState state, string playbook) =>
        _missions.Add(1, new KeyValuePair<string, object?>("state", state.ToString()), new KeyValuePair<string, object?>("playbook", playbook));

    internal void StageEnded(PipelineStage stage, Mission mission, double seconds)
    {
        var playbook = new KeyValuePair<string, object?>("playbook", mission.PlaybookKey);
        if (stage == PipelineStage.Execute)
        {
            _actionDuration.Record(seconds, playbook, new KeyValuePair<string, object?>("action", mission.Action));
        }
        else if (stage == PipelineStage.Verify)
        {
            _verificationDuration.Record(seconds, playbook, new KeyValuePair<string, object?>("action", mission.Action));
        }
    }

    /// <summary>A contract's verdict, once committed.</summary>
    public void Verdict(ContractVerdict verdict, string playbook) =>
        _verdicts.Add(1, new KeyValuePair<string, object?>("verdict", verdict.ToString()), new KeyValuePair<string, object?>("playbook", playbook));

    /// <summary>Time to recover of a mission that healed its incident, once learned.</summary>
    public void Recovered(double seconds, string playbook, string pattern) =>
        _timeToRecover.Record(seconds, new KeyValuePair<string, object?>("playbook", playbook), new KeyValuePair<string, object?>("pattern", pattern));

    public void Dispose() => _meter.Dispose();
}
