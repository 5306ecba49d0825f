using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>
/// The lines of import/export blobs, in the same shapes and with the same per-item parsing as the bulk endpoint
/// (<see cref="BulkRequest"/>), so an import line and a bulk item mean the same thing. Thread-safe.
/// </summary>
internal sealed class DeviceLines : IDeviceLineFormat
{
    private const int QuotedLineChars = 200;

    public ImportLine Parse(ReadOnlySpan<byte> line)
    {
        ExportImportDeviceJson? item;
        try
        {
            item = JsonSerializer.Deserialize(line, JobJsonContext.Wire.ExportImportDeviceJson);
        }
        catch (JsonException e)
        {
            // The serializer's own message names the registry's .NET types and the reader's internals; the log goes to
            // the customer's storage, so it says where the line went wrong in the line's terms instead.
            var at = e.BytePositionInLine is { } position ? $" (byte {position} of the line)" : "";
            return Invalid(line, e.InnerException is JsonException
                ? $"It is not valid JSON{at}."
                : $"The value at {e.Path ?? "$"} is not of the type a device line has there{at}.");
        }
        if (item is null)
        {
            return Invalid(line, "the line is null.");
        }
        if (WireEnums.ReadImportMode(item.ImportMode) is not { } mode)
        {
            var twin = item.ImportMode!.StartsWith("updateTwin", StringComparison.OrdinalIgnoreCase);
            return new ImportLine(null, new ImportLineError(item.Id, RegistryErrorCode.ArgumentInvalid, twin
                ? $"importMode '{item.ImportMode}' changes only a device twin, and this registry keeps no twins."
                : $"importMode '{item.ImportMode}' of device '{item.Id}' is not supported."));
        }
        var parsed = BulkRequest.ToItem(item, mode);
        return parsed.Operation is { } operation
            ? new ImportLine(operation, null)
            : new ImportLine(null, new ImportLineError(parsed.DeviceId, Enum.Parse<RegistryErrorCode>(parsed.Error!.ErrorCode), parsed.Error.ErrorStatus));
    }

    public void AddDeviceIds(ReadOnlySpan<byte> line, ISet<string> ids)
    {
        // Property names match as Parse matches them (case-insensitively, escapes decoded); a malformed line yields what
        // was read before the error, which only makes the caller more careful.
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = GatewayJsonContext.MaxDepth });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isId = reader.ValueIsEscaped
                    ? string.Equals(reader.GetString(), "id", StringComparison.OrdinalIgnoreCase)
                    : reader.ValueSpan is [(byte)'i' or (byte)'I', (byte)'d' or (byte)'D'];
                if (!reader.Read())
                {
                    return;
                }
                if (isId && reader.TokenType == JsonTokenType.String)
                {
                    ids.Add(reader.GetString()!);
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void WriteDevice(DeviceIdentity device, bool excludeKeys, IBufferWriter<byte> output)
    {
        var wire = DeviceWireMapper.ToJson(device);
        var authentication = excludeKeys
            ? new AuthenticationJson
            {
                SymmetricKey = new SymmetricKeyJson(),
                X509Thumbprint = wire.Authentication.X509Thumbprint,
                Type = wire.Authentication.Type,
            }
            : wire.Authentication;
        var line = new ExportDeviceJson(wire.DeviceId, wire.Etag, wire.Status, wire.StatusReason, authentication, wire.Capabilities,
            wire.DeviceScope, wire.ParentScopes);
        using var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JobJsonContext.Wire.Options.Encoder });
        JsonSerializer.Serialize(writer, line, JobJsonContext.Wire.ExportDeviceJson);
    }

    public void WriteError(ImportLineError error, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JobJsonContext.Wire.Options.Encoder });
        JsonSerializer.Serialize(writer, new ImportErrorJson(error.DeviceId, (int)error.ErrorCode, error.ErrorStatus), JobJsonContext.Wire.ImportErrorJson);
    }

    // IoT Hub's observed text for a line it cannot read, with code 400012; the quote is cut so a huge line stays out of the log.
    private static ImportLine Invalid(ReadOnlySpan<byte> line, string why)
    {
        var text = Encoding.UTF8.GetString(line[..Math.Min(line.Length, QuotedLineChars)]);
        return new ImportLine(null, new ImportLineError(null, RegistryErrorCode.DeviceInvalidResultCount,
            $"Invalid device format in line: {text}{(line.Length > QuotedLineChars ? "…" : "")}. {why}"));
    }
}

/// <summary>Registers the gateway's import/export line format, which the job grains of every silo need.</summary>
public static class DeviceLineFormatExtensions
{
    public static IServiceCollection AddDeviceLineFormat(this IServiceCollection services) =>
        services.AddSingleton<IDeviceLineFormat, DeviceLines>();
}
