using System.Runtime.InteropServices;

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

    public bool LivesInTheSilos => true;
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

/// <summary>
/// Holds one partition's records for the life of the silo: never collected, since it is the storage. Entries are values
/// updated in place: a record object kept per device, replaced once a minute for every active device, was a million
/// objects a minute promoted to the oldest generation and dropped there.
/// </summary>
[KeepAlive]
public sealed class MemoryPresenceStoreGrain : Grain, IMemoryPresenceStoreGrain
{
    private readonly Dictionary<string, Entry> _records = new(StringComparer.Ordinal);

    public Task Write(IReadOnlyList<PresenceRecord> records)
    {
        foreach (var record in records)
        {
            ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_records, record.DeviceId, out _);
            // The string held already when it is the same (records from another silo arrive as fresh copies).
            var generation = string.Equals(entry.GenerationId, record.GenerationId, StringComparison.Ordinal) ? entry.GenerationId : record.GenerationId;
            entry = new Entry(generation, record.LastActivityTime, record.LastHeartbeatTime, record.ConnectionStateUpdatedTime);
        }
        return Task.CompletedTask;
    }

    public Task<PresenceRecord?> Read(string deviceId) => Task.FromResult(_records.TryGetValue(deviceId, out var entry)
        ? new PresenceRecord(deviceId, entry.GenerationId, entry.LastActivityTime, entry.LastHeartbeatTime, entry.ConnectionStateUpdatedTime)
        : null);

    private readonly record struct Entry(string GenerationId, DateTime LastActivityTime, DateTime? LastHeartbeatTime, DateTime ConnectionStateUpdatedTime);
}
