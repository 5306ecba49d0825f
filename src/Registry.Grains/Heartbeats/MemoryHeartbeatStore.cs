namespace Registry.Grains.Heartbeats;

/// <summary>
/// The embedded mode's <see cref="IHeartbeatStore"/>: each partition's records in a <see cref="MemoryHeartbeatStoreGrain"/>,
/// so every silo of a cluster sees the same store, as the memory index store does.
/// </summary>
public sealed class MemoryHeartbeatStore(IGrainFactory grains) : IHeartbeatStore
{
    public Task<IReadOnlyList<MonitoredDevice>> Load(int partition) => grains.GetGrain<IMemoryHeartbeatStoreGrain>(partition).Load();

    public Task Apply(int partition, IReadOnlyList<MonitorChange> changes) => grains.GetGrain<IMemoryHeartbeatStoreGrain>(partition).Apply(changes);
}

/// <summary>One partition of <see cref="MemoryHeartbeatStore"/>; key = partition number.</summary>
[Alias("registry.IMemoryHeartbeatStoreGrain")]
public interface IMemoryHeartbeatStoreGrain : IGrainWithIntegerKey
{
    [Alias("Load")]
    Task<IReadOnlyList<MonitoredDevice>> Load();

    [Alias("Apply")]
    Task Apply(IReadOnlyList<MonitorChange> changes);
}

/// <summary>Holds one partition's records for the life of the silo: never collected, since it is the storage.</summary>
[KeepAlive]
public sealed class MemoryHeartbeatStoreGrain : Grain, IMemoryHeartbeatStoreGrain
{
    private readonly Dictionary<string, MonitoredDevice> _devices = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<MonitoredDevice>> Load() => Task.FromResult<IReadOnlyList<MonitoredDevice>>(_devices.Values.ToArray());

    public Task Apply(IReadOnlyList<MonitorChange> changes)
    {
        foreach (var change in changes)
        {
            if (change.Device is { } device)
            {
                _devices[change.DeviceId] = device;
            }
            else
            {
                _devices.Remove(change.DeviceId);
            }
        }
        return Task.CompletedTask;
    }
}
