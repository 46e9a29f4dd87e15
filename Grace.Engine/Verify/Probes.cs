using System.ComponentModel.DataAnnotations;
using Grace.Engine.Adapters;
using Grace.Engine.Capture;
using Grace.Engine.Configuration;

namespace Grace.Engine.Verify;

/// <summary>The parameters of <c>incident.signal-rate</c>.</summary>
public sealed class SignalRateParameters
{
    [Range(1, SignalRateTracker.MaxWindowSeconds, ErrorMessage = "must be a whole number of seconds between {1} and {2}.")]
    public int WindowSeconds { get; init; } = 30;
}

/// <summary>
/// <c>incident.signal-rate</c>: signals per minute of the mission's incident over the last
/// <c>WindowSeconds</c>, on any kind of target: below a threshold means the errors stopped.
/// </summary>
public sealed class IncidentSignalRateProbe(SignalRateTracker rates) : Probe<SignalRateParameters>
{
    public override string Key => "incident.signal-rate";
    public override string Unit => "signals/min";
    public override IReadOnlySet<TargetKind> TargetKinds => KindSets.AnyKind;

    protected override Task<double> ReadAsync(ProbeRequest request, SignalRateParameters p, CancellationToken cancellationToken)
    {
        var count = request.IncidentId is { } id ? rates.CountInLast(id, p.WindowSeconds) : 0;
        return Task.FromResult(count * 60.0 / p.WindowSeconds);
    }
}
