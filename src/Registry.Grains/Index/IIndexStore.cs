using Registry.Abstractions;

namespace Registry.Grains.Index;

/// <summary>
/// Where index partitions persist, one record per entry, so that a change costs the change and not the partition
/// (a partition grows to tens of thousands of ids at 10M devices). The grains own this contract and stay free of
/// storage SDKs; the host implements it (an Azure Table in durable mode, memory otherwise). docs/storage.md §6.
/// </summary>
public interface IIndexStore
{
    /// <summary>Every entry stored for <paramref name="partition"/>, in any order.</summary>
    Task<IReadOnlyList<IndexEntry>> Load(int partition);

    /// <summary>
    /// Stores <paramref name="changes"/> (at most one per id). Idempotent: applying a change again, or removing an id
    /// that is not stored, is not an error, because a write that failed part-way is retried whole.
    /// </summary>
    Task Apply(int partition, IReadOnlyList<IndexChange> changes);

    /// <summary>
    /// The most changes a partition hands to one <see cref="Apply"/>: a store whose write is bounded in time as a whole
    /// sets the changes one storage request carries, so a write is one request within its bound and a failed write fails
    /// only the callers of those changes. <see cref="int.MaxValue"/> for a store without such a limit.
    /// </summary>
    int MaxChangesPerWrite { get; }
}

/// <summary>One change to an index partition: the entry as it must now be stored, or its removal (<see cref="Enabled"/> null).</summary>
[GenerateSerializer, Immutable, Alias("registry.IndexChange")]
public readonly record struct IndexChange([property: Id(0)] string DeviceId, [property: Id(1)] bool? Enabled);
