namespace Registry.Abstractions;

/// <summary>
/// An id in an index partition, with the status counted for statistics. As an index store loads it, an entry with
/// <see cref="SettleBy"/> is not an entry but a partition's mark that a write of the device may still land until then
/// (neither listed nor counted; docs/invariants.md §3); pages never carry one.
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.IndexEntry")]
public sealed record IndexEntry([property: Id(0)] string DeviceId, [property: Id(1)] bool Enabled, [property: Id(2)] DateTimeOffset? SettleBy = null);

/// <summary>Ids of one partition after a cursor, in ordinal order.</summary>
[GenerateSerializer, Immutable, Alias("registry.IndexPage")]
public sealed record IndexPage([property: Id(0)] IReadOnlyList<IndexEntry> Entries, [property: Id(1)] bool HasMore);

/// <summary>How many ids a partition holds, by status.</summary>
[GenerateSerializer, Immutable, Alias("registry.IndexCounts")]
public sealed record IndexCounts([property: Id(0)] long Enabled, [property: Id(1)] long Disabled);

/// <summary>
/// One partition of the device index (key = partition number, from <see cref="DevicePartitioner"/>): the sorted
/// ids whose hash falls here. A superset of the registered devices: ids are added before the device is
/// written and removed after it is deleted, so listing and statistics never miss a device.
/// </summary>
[Alias("registry.IDeviceIndexGrain")]
public interface IDeviceIndexGrain : IGrainWithIntegerKey
{
    /// <summary>Adds or re-flags ids; returns once the change is durable.</summary>
    [Alias("Upsert")]
    Task Upsert(IReadOnlyList<IndexEntry> entries);

    /// <summary>Removes ids; returns once the change is durable.</summary>
    [Alias("Remove")]
    Task Remove(IReadOnlyList<string> deviceIds);

    /// <summary>Up to <paramref name="maxCount"/> entries after <paramref name="afterDeviceId"/> (ordinal), from the start when null.</summary>
    [Alias("Page")]
    Task<IndexPage> Page(string? afterDeviceId, int maxCount);

    [Alias("Counts")]
    Task<IndexCounts> Counts();
}
