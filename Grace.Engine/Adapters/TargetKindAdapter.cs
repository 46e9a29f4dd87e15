using Grace.Engine.Configuration;
using Microsoft.Extensions.Configuration;

namespace Grace.Engine.Adapters;

/// <summary>
/// A kind of target, as its adapter module describes it: its name, how its own settings bind and
/// what they require, whether only one machine can act on such a target, and which failures of
/// calls to it are worth retrying. The engine asks these questions; it names no kind itself.
/// </summary>
public interface ITargetKindAdapter
{
    TargetKind Kind { get; }

    /// <summary>True when only one machine can act on targets of this kind (a process, a file).</summary>
    bool IsHostBound { get; }

    /// <summary>Binds and checks a target's settings of this kind from its configuration section.</summary>
    TargetSettings Bind(string key, IConfigurationSection section);

    /// <summary>Whether a failure of a call to such a target is transient (worth a retry).</summary>
    bool IsTransient(Exception exception);
}

/// <summary>
/// A target's own settings, bound: <see cref="Value"/> when usable; else the one setting it cannot do
/// without (<see cref="Missing"/>: an error, unless the target is <c>Optional</c>), or why it has
/// nothing to act on here (<see cref="Idle"/>); and any other faults (each "Setting message").
/// </summary>
public sealed record TargetSettings(object? Value, (string Setting, string Why)? Missing = null, string? Idle = null, IReadOnlyList<string>? Problems = null)
{
    public IReadOnlyList<string> Faults => Problems ?? [];

    public static TargetSettings Of(object value) => new(value);

    public static TargetSettings Without(string setting, string why) => new(null, (setting, why));
}

/// <summary>
/// The usual shape of a kind: an options class bound from the target's section (only this kind's
/// fields), resolved into the settings its actions and probes use.
/// </summary>
public abstract class TargetKindAdapter<TOptions> : ITargetKindAdapter where TOptions : class, new()
{
    public abstract TargetKind Kind { get; }

    public virtual bool IsHostBound => false;

    public TargetSettings Bind(string key, IConfigurationSection section)
    {
        TOptions options;
        try
        {
            options = section.Get<TOptions>() ?? new TOptions();
        }
        catch (InvalidOperationException ex)
        {
            return new TargetSettings(null, Problems: [ex.InnerException?.Message ?? ex.Message]);
        }

        return Resolve(key, options);
    }

    /// <summary>Turns the bound options into settings, or says what is missing or wrong.</summary>
    protected abstract TargetSettings Resolve(string key, TOptions options);

    public virtual bool IsTransient(Exception exception) => false;
}
