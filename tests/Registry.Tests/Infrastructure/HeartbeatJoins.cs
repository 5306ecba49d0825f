using Registry.Abstractions;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// A heartbeat is answered before the device's join to its monitor partition lands (the join runs off the heartbeat's
/// path), so a test that then asks the partition (<c>Check</c>, <c>OutageOf</c>, <c>IsWatching</c>) must wait for it: the
/// heartbeat state the device grain reports waits for any join in flight. Without that wait a partition asked at once may
/// not know the device yet.
/// </summary>
internal static class HeartbeatJoins
{
    /// <summary>A heartbeat of <paramref name="deviceId"/>, granted, and the monitor join it started landed.</summary>
    public static async Task BeatAndJoinAsync(this IGrainFactory grains, string deviceId)
    {
        Assert.Equal(DeviceAccess.Granted, await grains.GetGrain<IDeviceGrain>(deviceId).Heartbeat());
        await grains.GetGrain<IDeviceHeartbeatGrain>(deviceId).GetHeartbeat();
    }
}
