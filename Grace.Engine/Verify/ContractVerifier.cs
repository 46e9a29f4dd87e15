using System.Text.Json;
using Grace.Data.Entities;
using Grace.Engine.Execute;
using Grace.Engine.Targets;

namespace Grace.Engine.Verify;

/// <summary>Reads a contract's probe and judges it.</summary>
public sealed class ContractVerifier(ExecutorCatalog executors)
{
    public static bool Holds(Comparator comparator, double observed, double threshold) => comparator switch
    {
        Comparator.LessThan => observed < threshold,
        Comparator.LessThanOrEqual => observed <= threshold,
        Comparator.GreaterThan => observed > threshold,
        Comparator.GreaterThanOrEqual => observed >= threshold,
        Comparator.Equal => Math.Abs(observed - threshold) < 1e-9,
        Comparator.NotEqual => Math.Abs(observed - threshold) >= 1e-9,
        _ => false,
    };

    public static string Symbol(Comparator comparator) => comparator switch
    {
        Comparator.LessThan => "<",
        Comparator.LessThanOrEqual => "≤",
        Comparator.GreaterThan => ">",
        Comparator.GreaterThanOrEqual => "≥",
        Comparator.Equal => "=",
        _ => "≠",
    };

    public string UnitOf(ActionContract contract) => executors.Probes.TryGetValue(contract.Probe, out var p) ? p.Unit : "";

    /// <summary>The reading the contract asks for.</summary>
    public static ProbeCall CallFor(ActionContract contract, Guid incidentId) => new(contract.Probe, contract.Target,
        JsonSerializer.Deserialize<Dictionary<string, string>>(contract.ProbeParameters ?? "{}") ?? [], incidentId);
}
