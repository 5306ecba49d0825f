using Registry.Abstractions;

namespace Registry.Grains.Devices;

/// <summary>What a device grain persists: the identity, or null when the id is not registered.</summary>
[GenerateSerializer, Alias("registry.DeviceState")]
public sealed class DeviceState
{
    [Id(0)] public DeviceIdentity? Identity { get; set; }
}
