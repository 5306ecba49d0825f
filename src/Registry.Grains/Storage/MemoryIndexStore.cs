using Registry.Abstractions;
using Registry.Grains.Index;

namespace Registry.Grains.Storage;

/// <summary>
/// The embedded mode's <see cref="IIndexStore"/>: each partition's entries in a <see cref="MemoryIndexStoreGrain"/>, so
/// every silo of a cluster sees the same store (as Orleans' memory grain storage does) and a write costs its delta.
/// </summary>
public sealed class MemoryIndexStore(IGrainFactory grains) : IIndexStore
{
    public Task<IReadOnlyList<IndexEntry>> Load(int partition, IndexLease? lease = null) =>
        grains.GetGrain<IMemoryIndexStoreGrain>(partition).Load(lease?.Holder);

    public Task Apply(int partition, IReadOnlyList<IndexChange> changes, IndexLease? lease = null) =>
        grains.GetGrain<IMemoryIndexStoreGrain>(partition).Apply(changes, lease?.Holder);

    /// <summary>Unlimited: a write is one call to a grain of the cluster, with no transaction limit and no time bound to fit.</summary>
    public int MaxChangesPerWrite => int.MaxValue;
}

/// <summary>One partition of <see cref="MemoryIndexStore"/>; key = partition number.</summary>
[Alias("registry.IMemoryIndexStoreGrain")]
public interface IMemoryIndexStoreGrain : IGrainWithIntegerKey
{
    /// <summary>The entries; with a <paramref name="holder"/>, the partition is claimed for it first (<see cref="IIndexStore.Load"/>).</summary>
    [Alias("LoadClaiming")]
    Task<IReadOnlyList<IndexEntry>> Load(string? holder);

    /// <summary>Applies <paramref name="changes"/>, unless <paramref name="holder"/> is not the partition's last claim (<see cref="IndexLeaseLostException"/>).</summary>
    [Alias("ApplyLeased")]
    Task Apply(IReadOnlyList<IndexChange> changes, string? holder);
}

/// <summary>
/// Holds one partition's stored entries for the life of the silo: never collected, since it is the storage. The ids are
/// the strings the index grain sent (immutable, so not copied on a local call): the store adds a table slot per id, not a copy.
/// </summary>
[KeepAlive]
public sealed class MemoryIndexStoreGrain : Grain, IMemoryIndexStoreGrain
{
    private readonly Dictionary<string, bool> _entries = new(StringComparer.Ordinal);
    /// <summary>Marks of ids whose writes may still land, each in its entry's place (<see cref="IndexChange.SettleBy"/>): few, and short-lived.</summary>
    private readonly Dictionary<string, DateTimeOffset> _marks = new(StringComparer.Ordinal);
    /// <summary>The lease of the partition activation that loaded last; its writes, and unleased ones, are applied.</summary>
    private string? _holder;

    public Task<IReadOnlyList<IndexEntry>> Load(string? holder)
    {
        _holder = holder ?? _holder;
        return Task.FromResult<IReadOnlyList<IndexEntry>>([.. _entries.Select(e => new IndexEntry(e.Key, e.Value)),
            .. _marks.Select(m => new IndexEntry(m.Key, false, m.Value))]);
    }

    public Task Apply(IReadOnlyList<IndexChange> changes, string? holder)
    {
        if (holder is not null && _holder is not null && holder != _holder)
        {
            throw new IndexLeaseLostException((int)this.GetPrimaryKeyLong());
        }
        foreach (var change in changes)
        {
            if (change.Enabled is { } enabled)
            {
                _entries[change.DeviceId] = enabled;
                _marks.Remove(change.DeviceId);
            }
            else
            {
                _entries.Remove(change.DeviceId);
                if (change.SettleBy is { } settleBy)
                {
                    _marks[change.DeviceId] = settleBy;
                }
                else
                {
                    _marks.Remove(change.DeviceId);
                }
            }
        }
        return Task.CompletedTask;
    }
}
