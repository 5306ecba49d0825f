namespace Registry.Abstractions;

/// <summary>IoT Hub's importMode: what one bulk or import line asks for. Parsed case-insensitively on the wire.</summary>
[GenerateSerializer, Alias("registry.ImportMode")]
public enum ImportMode
{
    CreateOrUpdate = 0,
    Create = 1,
    Update = 2,
    UpdateIfMatchETag = 3,
    CreateOrUpdateIfMatchETag = 4,
    Delete = 5,
    DeleteIfMatchETag = 6,
}

/// <summary>One item of a bulk registry call (IoT Hub's ExportImportDevice, identity part).</summary>
[GenerateSerializer, Immutable, Alias("registry.BulkOperation")]
public sealed record BulkOperation(
    [property: Id(0)] ImportMode Mode,
    [property: Id(1)] DeviceIdentityInput Device,
    [property: Id(2)] string? ETag);

/// <summary>Why one bulk item failed (IoT Hub's DeviceRegistryOperationError).</summary>
[GenerateSerializer, Immutable, Alias("registry.BulkOperationError")]
public sealed record BulkOperationError(
    [property: Id(0)] string DeviceId,
    [property: Id(1)] RegistryErrorCode ErrorCode,
    [property: Id(2)] string ErrorStatus,
    [property: Id(3)] ImportMode Operation);

/// <summary>IoT Hub's BulkRegistryOperationResult: successful when no item failed.</summary>
[GenerateSerializer, Immutable, Alias("registry.BulkOperationResult")]
public sealed record BulkOperationResult([property: Id(0)] IReadOnlyList<BulkOperationError> Errors)
{
    public bool IsSuccessful => Errors.Count == 0;
}
