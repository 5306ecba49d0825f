namespace Registry.Gateway.Wire;

/// <summary>
/// One item of a bulk POST, IoT Hub's ExportImportDevice (docs/wire-contract.md §9). Property names match
/// case-insensitively, so <c>eTag</c> (C#) and <c>etag</c> (Node) both land in <see cref="ETag"/>.
/// Twin fields (<c>tags</c>, <c>properties</c>, <c>twinETag</c>) are not declared: the registry has no twins,
/// so they are skipped like any unknown field.
/// </summary>
internal sealed class ExportImportDeviceJson : DeviceFieldsJson
{
    public string? Id { get; init; }
    public string? ModuleId { get; init; }
    public string? ETag { get; init; }
    public string? ImportMode { get; init; }
}

/// <summary>IoT Hub's BulkRegistryOperationResult (docs/wire-contract.md §9).</summary>
internal sealed record BulkResultJson(bool IsSuccessful, IReadOnlyList<BulkErrorJson> Errors, IReadOnlyList<BulkWarningJson> Warnings);

/// <summary>IoT Hub's DeviceRegistryOperationError; <c>errorCode</c> is the code's name, <c>operation</c> the camelCase importMode.</summary>
internal sealed record BulkErrorJson(string? DeviceId, string? ModuleId, string ErrorCode, string ErrorStatus, string Operation);

/// <summary>IoT Hub's DeviceRegistryOperationWarning; the registry never emits one, the list is there for the schema.</summary>
internal sealed record BulkWarningJson(string DeviceId, string WarningCode, string WarningStatus);
