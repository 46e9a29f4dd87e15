using System.Buffers;
using System.Text;
using System.Text.Json;
using Google.Protobuf;

namespace Grace.Web.Otlp;

/// <summary>
/// OTLP/JSON is proto3's JSON mapping with one exception: trace and span ids are hex, not base64.
/// Everything else (lowerCamelCase names, enums as names or integers, 64-bit integers as strings,
/// unknown fields ignored) is what Google.Protobuf's parser already does; the ids are turned into
/// base64 on the way in, in one streaming pass.
/// </summary>
internal static class OtlpJson
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    private static readonly SearchValues<char> HexDigits = SearchValues.Create("0123456789abcdefABCDEF");

    public static T Parse<T>(ReadOnlySpan<byte> utf8)
        where T : IMessage, new() => Parser.Parse<T>(HexIdsToBase64(utf8));

    /// <summary>The answer in JSON: 64-bit counts as strings, default values left out (an empty response is <c>{}</c>).</summary>
    public static string Format(IMessage message) => JsonFormatter.Default.Format(message);

    private static string HexIdsToBase64(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 });
        var output = new ArrayBufferWriter<byte>(utf8.Length + 64);
        using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            var idFollows = false;
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        idFollows = reader.ValueTextEquals("traceId"u8) || reader.ValueTextEquals("spanId"u8)
                            || reader.ValueTextEquals("trace_id"u8) || reader.ValueTextEquals("span_id"u8);
                        writer.WritePropertyName(reader.GetString()!);
                        continue;
                    case JsonTokenType.String when idFollows && TryHex(reader.GetString()!, out var bytes):
                        writer.WriteStringValue(Convert.ToBase64String(bytes));
                        break;
                    case JsonTokenType.String:
                        writer.WriteStringValue(reader.GetString());
                        break;
                    case JsonTokenType.Number:
                        // Kept digit for digit: a 64-bit integer must not pass through a double.
                        writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                        break;
                    case JsonTokenType.True or JsonTokenType.False:
                        writer.WriteBooleanValue(reader.GetBoolean());
                        break;
                    case JsonTokenType.Null:
                        writer.WriteNullValue();
                        break;
                    case JsonTokenType.StartObject:
                        writer.WriteStartObject();
                        break;
                    case JsonTokenType.EndObject:
                        writer.WriteEndObject();
                        break;
                    case JsonTokenType.StartArray:
                        writer.WriteStartArray();
                        break;
                    case JsonTokenType.EndArray:
                        writer.WriteEndArray();
                        break;
                }

                idFollows = false;
            }
        }

        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    // An id that is not hex is passed on as it is; if it is not base64 either, the parser says so, and a wrong length is refused per record.
    private static bool TryHex(string value, out byte[] bytes)
    {
        bytes = [];
        if (value.Length % 2 != 0 || value.AsSpan().ContainsAnyExcept(HexDigits))
        {
            return false;
        }

        bytes = Convert.FromHexString(value);
        return true;
    }
}
