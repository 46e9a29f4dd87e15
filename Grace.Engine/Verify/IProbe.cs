using Grace.Engine.Configuration;
using Grace.Engine.Targets;

namespace Grace.Engine.Verify;

/// <summary>What a probe reads: one value of one target, in the context of a mission's incident.</summary>
public sealed record ProbeRequest(ResolvedTarget Target, IReadOnlyDictionary<string, string> Parameters, Guid? IncidentId);

/// <summary>Reads one measurable value of a target.</summary>
public interface IProbe
{
    /// <summary>The key contracts name in <c>Probe</c>.</summary>
    string Key { get; }

    /// <summary>The unit of the value, for people ("bytes", "level", "signals/min").</summary>
    string Unit { get; }

    IReadOnlySet<TargetKind> TargetKinds { get; }

    IEnumerable<string> ValidateParameters(IReadOnlyDictionary<string, string> parameters) => [];

    /// <summary>What a target read by this probe must have beyond its kind (an HTTP probe needs a Url).</summary>
    IEnumerable<string> ValidateTarget(string targetKey, ResolvedTarget target) => [];

    Task<double> ReadAsync(ProbeRequest request, CancellationToken cancellationToken);
}
