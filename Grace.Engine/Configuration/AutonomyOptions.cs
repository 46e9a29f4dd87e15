using System.ComponentModel.DataAnnotations;

namespace Grace.Engine.Configuration;

/// <summary>What Grace does with a mission whose action contract already holds at planning time.</summary>
public enum VacuousContractPolicy
{
    /// <summary>The mission is blocked at once: acting would prove nothing.</summary>
    Refuse = 0,
    /// <summary>The mission waits (on a timer, holding no worker) until the contract stops holding, then goes on to the gate; blocked if it still holds at the deadline.</summary>
    Wait = 1,
    /// <summary>
    /// The mission acts anyway; the plan still says the contract held, and learning still never counts
    /// it as a success. For test benches whose witness contract always holds; not for production.
    /// </summary>
    Act = 2,
}

/// <summary>Earned autonomy (<c>Grace:Autonomy</c>): vacuous contracts, tier suggestions from the track record, and their decay.</summary>
public sealed class AutonomyOptions
{
    public const string Section = "Grace:Autonomy";

    /// <summary>A contract that already holds at planning: <c>Refuse</c> (default), <c>Wait</c>, or <c>Act</c> (test benches only).</summary>
    [EnumDataType(typeof(VacuousContractPolicy), ErrorMessage = "Grace:Autonomy:VacuousContract must be Refuse, Wait or Act.")]
    public VacuousContractPolicy VacuousContract { get; set; } = VacuousContractPolicy.Refuse;

    /// <summary>With <c>Wait</c>: how long after planning the contract may keep holding before the mission is blocked.</summary>
    [Range(1, 24 * 3600, ErrorMessage = "Grace:Autonomy:VacuousWaitSeconds must be between {1} and {2}.")]
    public int VacuousWaitSeconds { get; set; } = 300;

    /// <summary>With <c>Wait</c>: how often the contract's probe is read again.</summary>
    [Range(0.05, 3600, ErrorMessage = "Grace:Autonomy:VacuousRecheckSeconds must be between {1} and {2}.")]
    public double VacuousRecheckSeconds { get; set; } = 10;

    /// <summary>When a playbook's record earns a lower tier.</summary>
    [Required(ErrorMessage = "Grace:Autonomy:TierSuggestions is required.")]
    public TierSuggestionOptions TierSuggestions { get; set; } = new();
}

/// <summary>
/// The rule (<c>Grace:Autonomy:TierSuggestions</c>): lower a playbook's tier by one only when the
/// Wilson lower bound (95 %) of its success rate over at least <see cref="MinRuns"/> runs is at least
/// <see cref="MinWilsonLowerBound"/>, and none of its last <see cref="RollbackFreeRuns"/> runs rolled back or failed.
/// </summary>
public sealed class TierSuggestionOptions
{
    [Range(1, 100_000, ErrorMessage = "Grace:Autonomy:TierSuggestions:MinRuns must be between {1} and {2}.")]
    public int MinRuns { get; set; } = 20;

    [Range(0.01, 0.999, ErrorMessage = "Grace:Autonomy:TierSuggestions:MinWilsonLowerBound must be between {1} and {2}.")]
    public double MinWilsonLowerBound { get; set; } = 0.9;

    [Range(0, 100_000, ErrorMessage = "Grace:Autonomy:TierSuggestions:RollbackFreeRuns must be between {1} and {2}.")]
    public int RollbackFreeRuns { get; set; } = 10;
}

/// <summary>Checks <see cref="AutonomyOptions"/> and its nested rule at start, naming the key at fault.</summary>
public sealed class AutonomyOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<AutonomyOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, AutonomyOptions options)
    {
        var failures = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), failures, validateAllProperties: true);
        if (options.TierSuggestions is { } rule)
        {
            Validator.TryValidateObject(rule, new ValidationContext(rule), failures, validateAllProperties: true);
        }

        return failures.Count == 0
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Success
            : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(failures.Select(f => f.ErrorMessage ?? "Grace:Autonomy is invalid."));
    }
}
