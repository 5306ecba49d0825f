namespace Registry.Grains.Devices;

/// <summary>
/// The embedded mode's <see cref="IPresenceStore"/>: each partition's records in a <see cref="MemoryPresenceStoreGrain"/>,
/// so every silo of a cluster sees the same store (as Orleans' memory grain storage does).
/// </summary>
public sealed class MemoryPresenceStore(IGrainFactory grains) : IPresenceStore
{
    public Task Write(int partition, IReadOnlyList<PresenceRecord> records) =>
        grains.GetGrain<IMemoryPresenceStoreGrain>(partition).Write(records);

    public Task<PresenceRecord?> Read(int partition, string deviceId) =>
        grains.GetGrain<IMemoryPresenceStoreGrain>(partition).Read(deviceId);
}

/// <summary>One partition of <see cref="MemoryPresenceStore"/>; key = partition number.</summary>
[Alias("registry.IMemoryPresenceStoreGrain")]
public interface IMemoryPresenceStoreGrain : IGrainWithIntegerKey
{
    [Alias("Write")]
    Task Write(IReadOnlyList<PresenceRecord> records);

    [Alias("Read")]
    Task<PresenceRecord?> Read(string deviceId);
}

/// <summary>Holds one partition's records for the life of the silo: never collected, since it is the storage.</summary>
[KeepAlive]
public sealed class MemoryPresenceStoreGrain : Grain, IMemoryPresenceStoreGrain
{
    private readonly Dictionary<string, PresenceRecord> _records = new(StringComparer.Ordinal);

    public Task Write(IReadOnlyList<PresenceRecord> records)
    {
        foreach (var record in records)
        {
            _records[record.DeviceId] = record;
        }
        return Task.CompletedTask;
    }

    public Task<PresenceRecord?> Read(string deviceId) => Task.FromResult(_records.GetValueOrDefault(deviceId));
}
