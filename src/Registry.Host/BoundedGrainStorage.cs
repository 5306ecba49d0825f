using Orleans.Storage;
using Registry.Abstractions;
using Registry.Grains.Index;
using Registry.Grains.Storage;

namespace Registry.Host;

/// <summary>
/// Wraps a durable grain storage so that storage that is down or hanging answers 503 <c>ServiceUnavailable</c>
/// promptly (<see cref="StorageTimeBound"/>). Every read, and every write of a store that sends one request per write
/// (Orleans' providers), takes one of the silo's request slots (<see cref="StorageTimeBound.Request"/>); a store that
/// group-commits its writes (<see cref="IGroupCommittingStorage"/>) bounds its own requests, so its writes are only
/// bounded in time.
/// </summary>
public sealed class BoundedGrainStorage(IGrainStorage inner, StorageTimeBound bound) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        bound.Request(() => inner.ReadStateAsync(stateName, grainId, grainState));

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner is IGroupCommittingStorage
            ? bound.Run(inner.WriteStateAsync(stateName, grainId, grainState))
            : bound.Request(() => inner.WriteStateAsync(stateName, grainId, grainState));

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner is IGroupCommittingStorage
            ? bound.Run(inner.ClearStateAsync(stateName, grainId, grainState))
            : bound.Request(() => inner.ClearStateAsync(stateName, grainId, grainState));
}

/// <summary>
/// A grain storage whose writes queue and go together as few requests, within request slots of its own
/// (<see cref="DeviceRowStorage"/>): a slot of the silo's per write would keep writes from meeting in its queue.
/// </summary>
public interface IGroupCommittingStorage : IGrainStorage;

/// <summary>
/// Wraps the durable index store like <see cref="BoundedGrainStorage"/>: a write within the timeout; a partition's load,
/// a range query of many pages each bounded by the SDK's network timeout, takes one of the silo's load slots
/// (<see cref="StorageTimeBound.Load"/>) and answers 503 only when storage is unreachable or no slot came in time.
/// </summary>
public sealed class BoundedIndexStore(IIndexStore inner, StorageTimeBound bound) : IIndexStore
{
    public Task<IReadOnlyList<IndexEntry>> Load(int partition, IndexLease? lease = null) =>
        bound.Load(() => inner.Load(partition, lease), BackgroundLoads.Requested);

    /// <summary>
    /// The bound covers a whole <see cref="Apply"/>, however many requests the inner store needs for it: the inner store's
    /// limit keeps a partition's write to one request, so the bound is a request's.
    /// </summary>
    public Task Apply(int partition, IReadOnlyList<IndexChange> changes, IndexLease? lease = null) => bound.Run(inner.Apply(partition, changes, lease));

    public int MaxChangesPerWrite => inner.MaxChangesPerWrite;
}
