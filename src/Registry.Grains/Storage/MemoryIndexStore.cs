using Registry.Abstractions;
using Registry.Grains.Index;

namespace Registry.Grains.Storage;

/// <summary>
/// The embedded mode's <see cref="IIndexStore"/>: each partition's entries in a <see cref="MemoryIndexStoreGrain"/>, so
/// every silo of a cluster sees the same store (as Orleans' memory grain storage does) and a write costs its delta.
/// </summary>
public sealed class MemoryIndexStore(IGrainFactory grains) : IIndexStore
{
    public Task<IReadOnlyList<IndexEntry>> Load(int partition) => grains.GetGrain<IMemoryIndexStoreGrain>(partition).Load();

    public Task Apply(int partition, IReadOnlyList<IndexChange> changes) => grains.GetGrain<IMemoryIndexStoreGrain>(partition).Apply(changes);

    /// <summary>Unlimited: a write is one call to a grain of the cluster, with no transaction limit and no time bound to fit.</summary>
    public int MaxChangesPerWrite => int.MaxValue;
}

/// <summary>One partition of <see cref="MemoryIndexStore"/>; key = partition number.</summary>
[Alias("registry.IMemoryIndexStoreGrain")]
public interface IMemoryIndexStoreGrain : IGrainWithIntegerKey
{
    [Alias("Load")]
    Task<IReadOnlyList<IndexEntry>> Load();

    [Alias("Apply")]
    Task Apply(IReadOnlyList<IndexChange> changes);
}

/// <summary>
/// Holds one partition's stored entries for the life of the silo: never collected, since it is the storage. The ids are
/// the strings the index grain sent (immutable, so not copied on a local call): the store adds a table slot per id, not a copy.
/// </summary>
[KeepAlive]
public sealed class MemoryIndexStoreGrain : Grain, IMemoryIndexStoreGrain
{
    private readonly Dictionary<string, bool> _entries = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<IndexEntry>> Load() =>
        Task.FromResult<IReadOnlyList<IndexEntry>>(_entries.Select(e => new IndexEntry(e.Key, e.Value)).ToArray());

    public Task Apply(IReadOnlyList<IndexChange> changes)
    {
        foreach (var change in changes)
        {
            if (change.Enabled is { } enabled)
            {
                _entries[change.DeviceId] = enabled;
            }
            else
            {
                _entries.Remove(change.DeviceId);
            }
        }
        return Task.CompletedTask;
    }
}
