using Registry.Abstractions;

namespace Registry.Grains.Devices;

/// <summary>What a device grain persists: the identity, or null when the id is not registered.</summary>
[GenerateSerializer, Alias("registry.DeviceState")]
public sealed class DeviceState
{
    [Id(0)] public DeviceIdentity? Identity { get; set; }

    /// <summary>
    /// The device's own heartbeat setting (null: the registry default). Beside the identity, not in it, so changing it
    /// leaves the identity's ETag alone. Id 10 leaves room for the device-side fields added next to it.
    /// </summary>
    [Id(10)] public HeartbeatOverride? Heartbeat { get; set; }
}
