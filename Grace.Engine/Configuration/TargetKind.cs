using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Grace.Engine.Configuration;

/// <summary>
/// The kind of a target (<c>Grace:Targets:&lt;key&gt;:Kind</c>): a name each adapter module declares
/// for itself (<c>Sqlite</c>, <c>Http</c>, <c>Container</c>...), so adding a kind never touches the
/// engine. Names compare without regard to case, as people write them in configuration.
/// </summary>
[TypeConverter(typeof(TargetKindTypeConverter))]
[JsonConverter(typeof(TargetKindJsonConverter))]
public readonly record struct TargetKind(string Name)
{
    public bool IsEmpty => string.IsNullOrWhiteSpace(Name);

    public bool Equals(TargetKind other) => string.Equals(Name, other.Name, StringComparison.OrdinalIgnoreCase);

    public override int GetHashCode() => StringComparer.OrdinalIgnoreCase.GetHashCode(Name ?? "");

    public override string ToString() => Name ?? "";
}

/// <summary>Binds <c>"Kind": "Sqlite"</c> from configuration.</summary>
public sealed class TargetKindTypeConverter : TypeConverter
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) => sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is string text ? new TargetKind(text.Trim()) : base.ConvertFrom(context, culture, value);
}

/// <summary>A kind travels as its name in JSON (the API, snapshots).</summary>
public sealed class TargetKindJsonConverter : JsonConverter<TargetKind>
{
    public override TargetKind Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => new(reader.GetString() ?? "");

    public override void Write(Utf8JsonWriter writer, TargetKind value, JsonSerializerOptions options) => writer.WriteStringValue(value.Name);
}
