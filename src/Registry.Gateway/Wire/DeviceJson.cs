namespace Registry.Gateway.Wire;

// IoT Hub's Device schema (docs/wire-contract.md §3). Enums are strings so the gateway owns their casing and can answer
// an unknown value with ArgumentInvalid instead of a format error; read-only fields exist only on the response.

/// <summary>A device as the gateway answers it; property order follows the IoT Hub swagger.</summary>
internal sealed class DeviceJson
{
    public required string DeviceId { get; init; }
    public required string GenerationId { get; init; }
    public required string Etag { get; init; }
    public required string ConnectionState { get; init; }
    public required string Status { get; init; }
    public string? StatusReason { get; init; }
    public required string ConnectionStateUpdatedTime { get; init; }
    public required string StatusUpdatedTime { get; init; }
    public required string LastActivityTime { get; init; }
    public int CloudToDeviceMessageCount { get; init; }
    public required AuthenticationJson Authentication { get; init; }
    public required CapabilitiesJson Capabilities { get; init; }
    public string? DeviceScope { get; init; }
    public required IReadOnlyList<string> ParentScopes { get; init; }
}

/// <summary>
/// The writable fields of a device, as a PUT body and a bulk item both carry them; each of those
/// extends it with how it names the device (and, for items, what to do with it).
/// </summary>
internal abstract class DeviceFieldsJson
{
    public string? Status { get; init; }
    public string? StatusReason { get; init; }
    public AuthenticationJson? Authentication { get; init; }
    public CapabilitiesJson? Capabilities { get; init; }
    public string? DeviceScope { get; init; }
    public List<string?>? ParentScopes { get; init; }
}

/// <summary>The writable part of a device PUT body; everything else in the body is ignored.</summary>
internal sealed class DeviceRequestJson : DeviceFieldsJson
{
    public string? DeviceId { get; init; }
}

internal sealed class AuthenticationJson
{
    public SymmetricKeyJson? SymmetricKey { get; init; }
    public X509ThumbprintJson? X509Thumbprint { get; init; }
    public string? Type { get; init; }
}

internal sealed class SymmetricKeyJson
{
    public string? PrimaryKey { get; init; }
    public string? SecondaryKey { get; init; }
}

internal sealed class X509ThumbprintJson
{
    public string? PrimaryThumbprint { get; init; }
    public string? SecondaryThumbprint { get; init; }
}

internal sealed class CapabilitiesJson
{
    public bool? IotEdge { get; init; }
}

/// <summary>IoT Hub's RegistryStatistics (docs/wire-contract.md §10).</summary>
internal sealed record RegistryStatisticsJson(long TotalDeviceCount, long EnabledDeviceCount, long DisabledDeviceCount);

/// <summary>IoT Hub's <c>ServiceStatistics</c> (swagger): devices connected now.</summary>
internal sealed record ServiceStatisticsJson(long ConnectedDeviceCount);
