namespace Registry.Abstractions;

/// <summary>One page of the registry in its stable order, with the cursor for the next page (null at the end).</summary>
[GenerateSerializer, Immutable, Alias("registry.DevicePage")]
public sealed record DevicePage(
    [property: Id(0)] IReadOnlyList<DeviceIdentity> Devices,
    [property: Id(1)] string? Continuation);

/// <summary>IoT Hub's RegistryStatistics.</summary>
[GenerateSerializer, Immutable, Alias("registry.RegistryStatistics")]
public sealed record RegistryStatistics(
    [property: Id(0)] long TotalDeviceCount,
    [property: Id(1)] long EnabledDeviceCount,
    [property: Id(2)] long DisabledDeviceCount);
