namespace Registry.Abstractions;

/// <summary>
/// A device's heartbeat monitoring, on its device grain (same key): the policy in effect, the device's override of the
/// registry default, and whether it is in an outage. Kept apart from <see cref="IDeviceGrain"/> because it is this
/// registry's extension, not IoT Hub's.
/// </summary>
[Alias("registry.IDeviceHeartbeatGrain")]
public interface IDeviceHeartbeatGrain : IGrainWithStringKey
{
    /// <summary>The policy in effect, last heartbeat and outage state; DeviceNotFound when the device is not registered.</summary>
    [Alias("GetHeartbeat")]
    Task<DeviceHeartbeat> GetHeartbeat();

    /// <summary>
    /// Sets the device's override (null: back to the registry default), durably with the device; the identity's ETag does
    /// not change. Monitoring starts (or stops) at once. DeviceNotFound when not registered; ArgumentInvalid for a bad policy.
    /// </summary>
    [Alias("SetHeartbeat")]
    Task<DeviceHeartbeat> SetHeartbeat(HeartbeatOverride? setting);
}

/// <summary>The devices currently in a heartbeat outage, across every monitor partition. Stateless; use key 0.</summary>
[Alias("registry.IHeartbeatOutagesGrain")]
public interface IHeartbeatOutagesGrain : IGrainWithIntegerKey
{
    /// <summary>Up to <paramref name="maxCount"/> outages after <paramref name="continuation"/> (null: from the start).</summary>
    [Alias("List")]
    Task<HeartbeatOutagePage> List(int maxCount, string? continuation);
}
