using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>
/// Seconds of a heartbeat setting: any JSON number with a whole value (<c>10</c>, <c>1e1</c>, <c>10.0</c>: JSON has no
/// integer type), ArgumentInvalid for a number that is not whole or beyond any range (<c>1.5</c>, <c>99999999999</c>,
/// as <c>86401</c> already was; they answered IotHubFormatError, hostile review 2026-12-05); a string or other type is
/// not a number and stays the serializer's IotHubFormatError.
/// </summary>
internal abstract class WholeSecondsConverter(string member, int min) : JsonConverter<int?>
{
    public override bool HandleNull => true;

    public override int? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }
        if (reader.TokenType != JsonTokenType.Number)
        {
            throw new JsonException("Expected a number of seconds.");
        }
        if (reader.TryGetInt32(out var seconds))
        {
            return seconds;
        }
        var text = Encoding.UTF8.GetString(reader.ValueSpan);
        if (!reader.TryGetDecimal(out var value) || value != decimal.Truncate(value))
        {
            throw RegistryException.Invalid(value != decimal.Truncate(value)
                ? $"{member}={text} is not a whole number of seconds."
                : OutOfRange(text));
        }
        return value is >= int.MinValue and <= int.MaxValue ? (int)value : throw RegistryException.Invalid(OutOfRange(text));
    }

    private string OutOfRange(string text) =>
        string.Create(CultureInfo.InvariantCulture, $"{member}={text} is out of range: use {min} to {HeartbeatPolicy.MaxSeconds}.");

    public override void Write(Utf8JsonWriter writer, int? value, JsonSerializerOptions options)
    {
        if (value is { } v)
        {
            writer.WriteNumberValue(v);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}

/// <summary><c>intervalSeconds</c>: 1 to one day.</summary>
internal sealed class IntervalSecondsConverter() : WholeSecondsConverter("intervalSeconds", HeartbeatPolicy.MinIntervalSeconds);

/// <summary><c>graceSeconds</c>: 0 to one day.</summary>
internal sealed class GraceSecondsConverter() : WholeSecondsConverter("graceSeconds", 0);
