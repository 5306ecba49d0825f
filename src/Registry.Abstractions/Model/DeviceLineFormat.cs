using System.Buffers;

namespace Registry.Abstractions;

/// <summary>
/// The NDJSON lines of import and export blobs (IoT Hub's ExportImportDevice, and importErrors.log). The JSON shapes
/// have one owner, the gateway's wire layer, which implements this; grains never reference the gateway, so the host
/// registers the implementation on every silo.
/// </summary>
public interface IDeviceLineFormat
{
    /// <summary>One input line (it starts with <c>{</c>; no newline): an operation for the bulk applier, or the line's error.</summary>
    ImportLine Parse(ReadOnlySpan<byte> line);

    /// <summary>
    /// Adds to <paramref name="ids"/> the device id <paramref name="line"/> names (as <see cref="Parse"/> would read it),
    /// cheaply, without the rest of the line; more than one when an <c>id</c> member appears twice, none when it cannot
    /// be read. The job uses it to keep a device's lines in file order across chunks.
    /// </summary>
    void AddDeviceIds(ReadOnlySpan<byte> line, ISet<string> ids);

    /// <summary>Writes <paramref name="device"/> as one export line, without the newline; keys as null when <paramref name="excludeKeys"/>.</summary>
    void WriteDevice(DeviceIdentity device, bool excludeKeys, IBufferWriter<byte> output);

    /// <summary>Writes one importErrors.log line (numeric errorCode), without the newline.</summary>
    void WriteError(ImportLineError error, IBufferWriter<byte> output);
}

/// <summary>A parsed input line: exactly one of <see cref="Operation"/> and <see cref="Error"/> is set.</summary>
public sealed record ImportLine(BulkOperation? Operation, ImportLineError? Error);

/// <summary>Why one input line was not applied, as importErrors.log reports it.</summary>
[GenerateSerializer, Immutable, Alias("registry.ImportLineError")]
public sealed record ImportLineError(
    [property: Id(0)] string? DeviceId,
    [property: Id(1)] RegistryErrorCode ErrorCode,
    [property: Id(2)] string ErrorStatus);
