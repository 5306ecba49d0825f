using System.Text.Json;
using System.Text.Json.Serialization;

namespace Registry.Gateway.Wire;

/// <summary>
/// A boolean that may also come as the string <c>"true"</c> or <c>"false"</c> (any case), as IoT Hub's Newtonsoft reader
/// takes it in a job body: a scripted body that works there works here. Any other string or type is malformed.
/// </summary>
internal sealed class LenientBooleanConverter : JsonConverter<bool?>
{
    public override bool HandleNull => true;

    public override bool? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        JsonTokenType.Null => null,
        JsonTokenType.String when string.Equals(reader.GetString(), "true", StringComparison.OrdinalIgnoreCase) => true,
        JsonTokenType.String when string.Equals(reader.GetString(), "false", StringComparison.OrdinalIgnoreCase) => false,
        _ => throw new JsonException("Expected true or false."),
    };

    public override void Write(Utf8JsonWriter writer, bool? value, JsonSerializerOptions options)
    {
        if (value is { } v)
        {
            writer.WriteBooleanValue(v);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
