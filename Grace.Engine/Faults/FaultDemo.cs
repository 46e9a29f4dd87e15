using System.Text.Json;
using System.Text.Json.Serialization;
using Grace.Engine.Configuration;
using Grace.Engine.Targets;

namespace Grace.Engine.Faults;

/// <summary>
/// The name of a fault a module can inject (<c>SqliteWalGrowth</c>, <c>ContainerKill</c>...). Each
/// adapter module declares its own, so a new kind brings its demo without touching the engine.
/// Names compare without regard to case, as people type them into the API.
/// </summary>
[JsonConverter(typeof(FaultKindJsonConverter))]
public readonly record struct FaultKind(string Name)
{
    public bool Equals(FaultKind other) => string.Equals(Name, other.Name, StringComparison.OrdinalIgnoreCase);

    public override int GetHashCode() => StringComparer.OrdinalIgnoreCase.GetHashCode(Name ?? "");

    public override string ToString() => Name ?? "";
}

/// <summary>A fault travels as its name in JSON.</summary>
public sealed class FaultKindJsonConverter : JsonConverter<FaultKind>
{
    public override FaultKind Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => new(reader.GetString() ?? "");

    public override void Write(Utf8JsonWriter writer, FaultKind value, JsonSerializerOptions options) => writer.WriteStringValue(value.Name);
}

/// <summary>What a fault does, for people choosing one, and the kind of target it breaks.</summary>
public sealed record FaultInfo(FaultKind Kind, string Title, string Description, TargetKind TargetKind, bool HasSize);

/// <summary>
/// A real fault a module can inject into one of its kind's targets, so a person can watch Grace
/// notice and heal it. The <see cref="FaultInjector"/> checks who asks, audits, and refuses a target
/// that is unconfigured or lives on another instance before a demo is reached.
/// </summary>
public interface IFaultDemo
{
    FaultInfo Info { get; }

    /// <summary>Why this target cannot take the fault now (not running, not under a cache root...); null when it can.</summary>
    string? Unavailable(ResolvedTarget target);

    /// <summary>
    /// For a fault with a size: the size that takes this target past its configured health threshold
    /// now, so the default demo makes something happen; null when the module cannot tell.
    /// </summary>
    int? MegabytesToBreak(ResolvedTarget target) => null;

    /// <summary>Breaks the target for real and says what was done; <paramref name="megabytes"/> is checked when the fault has a size.</summary>
    Task<string> InjectAsync(ResolvedTarget target, int megabytes, CancellationToken cancellationToken);
}
