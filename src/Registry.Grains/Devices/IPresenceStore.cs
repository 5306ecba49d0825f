namespace Registry.Grains.Devices;

/// <summary>
/// Where devices' last activity and last heartbeat are made durable, in batches by index partition
/// (<see cref="PresenceWriter"/>): never one write per heartbeat. Grains stay free of storage SDKs: the host
/// implements it for Azure Tables; <see cref="MemoryPresenceStore"/> is the embedded mode's.
/// </summary>
public interface IPresenceStore
{
    /// <summary>Upserts <paramref name="records"/>, all of index partition <paramref name="partition"/>.</summary>
    Task Write(int partition, IReadOnlyList<PresenceRecord> records);

    /// <summary>The last record written for <paramref name="deviceId"/>, or null.</summary>
    Task<PresenceRecord?> Read(int partition, string deviceId);

    /// <summary>
    /// The last records written for <paramref name="deviceIds"/>, all of <paramref name="partition"/> (a listing's page); an
    /// id with none is absent. A store that can read them by one range query does; this default reads them one by one.
    /// </summary>
    async Task<IReadOnlyDictionary<string, PresenceRecord>> ReadMany(int partition, IReadOnlyCollection<string> deviceIds)
    {
        var records = await Task.WhenAll(deviceIds.Select(id => Read(partition, id)));
        return records.OfType<PresenceRecord>().ToDictionary(r => r.DeviceId, StringComparer.Ordinal);
    }

    /// <summary>
    /// Whether what is written lives only in the cluster's silos (the embedded mode's grains): then the last silo's stop
    /// has nowhere to write to that outlives it, and does not try.
    /// </summary>
    bool LivesInTheSilos => false;
}

/// <summary>
/// A device's presence as persisted. <paramref name="GenerationId"/> ties it to one life of the id: a device created
/// again after a delete does not inherit the deleted one's activity.
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.PresenceRecord")]
public sealed record PresenceRecord(
    [property: Id(0)] string DeviceId,
    [property: Id(1)] string GenerationId,
    [property: Id(2)] DateTime LastActivityTime,
    [property: Id(3)] DateTime? LastHeartbeatTime,
    [property: Id(4)] DateTime ConnectionStateUpdatedTime = default);

/// <summary>How often presence is written (the staleness bound after a crash); a clean stop writes what is left.</summary>
public sealed class PresenceOptions
{
    public TimeSpan PersistInterval { get; set; } = TimeSpan.FromSeconds(60);
}
