using Registry.Abstractions;

namespace Registry.Grains.Index;

/// <summary>
/// Where index partitions persist, one record per entry, so that a change costs the change and not the partition
/// (a partition grows to tens of thousands of ids at 10M devices). The grains own this contract and stay free of
/// storage SDKs; the host implements it (an Azure Table in durable mode, memory otherwise). docs/storage.md §6.
/// </summary>
public interface IIndexStore
{
    /// <summary>
    /// Every entry stored for <paramref name="partition"/>, in any order. With a <paramref name="lease"/> (a partition
    /// activation's), the partition is claimed for it first: from then on a write carrying an earlier activation's lease is
    /// refused with <see cref="IndexLeaseLostException"/>, so every write that succeeds either landed before this load
    /// read the entries (and is among them) or carries this lease. Without one (tools, tests), nothing is claimed.
    /// </summary>
    Task<IReadOnlyList<IndexEntry>> Load(int partition, IndexLease? lease = null);

    /// <summary>
    /// Stores <paramref name="changes"/> (at most one per id). Idempotent: applying a change again, or removing an id
    /// that is not stored, is not an error, because a write that failed part-way is retried whole.
    /// <para>
    /// With a <paramref name="lease"/>, nothing of the write lands once a later <see cref="Load"/> claimed the partition
    /// for another lease: the write throws <see cref="IndexLeaseLostException"/>.
    /// </para>
    /// </summary>
    Task Apply(int partition, IReadOnlyList<IndexChange> changes, IndexLease? lease = null);

    /// <summary>
    /// The most changes a partition hands to one <see cref="Apply"/>: a store whose write is bounded in time as a whole
    /// sets the changes one storage request carries, so a write is one request within its bound and a failed write fails
    /// only the callers of those changes. <see cref="int.MaxValue"/> for a store without such a limit.
    /// </summary>
    int MaxChangesPerWrite { get; }
}

/// <summary>
/// One change to an index partition: the entry as it must now be stored, or its removal (<see cref="Enabled"/> null).
/// A removal with <see cref="SettleBy"/> stores in the entry's place the partition's mark that a write of the device may
/// still land until then (<see cref="IIndexVerification.SettleLater"/>), so a partition loaded again before that time
/// still knows it (<see cref="IndexEntry.SettleBy"/>).
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.IndexChange")]
public readonly record struct IndexChange([property: Id(0)] string DeviceId, [property: Id(1)] bool? Enabled, [property: Id(2)] DateTimeOffset? SettleBy = null)
{
    /// <summary>Nothing of the id is to be stored: neither an entry nor a mark.</summary>
    public bool IsRemoval => Enabled is null && SettleBy is null;
}

/// <summary>
/// One partition activation's claim on its partition's stored entries (<see cref="IIndexStore.Load"/>). Orleans' default
/// grain directory can, while a dead silo's share of it is taken over, let a new activation of a partition load its entries
/// while the old one still finishes writes: an entry acknowledged by the old one after the new one's load was then missing
/// from the new one's memory (listing, statistics and the absence check) until the partition next activated. The lease
/// makes such a write fail instead (docs/storage.md §6, "One activation writes").
/// </summary>
public sealed class IndexLease
{
    /// <summary>Unique to the activation that holds it.</summary>
    public string Holder { get; } = Guid.NewGuid().ToString("N");

    /// <summary>What the store needs to prove the claim on its next write (the durable store: its claim row's ETag); the store's alone.</summary>
    public object? Proof { get; set; }
}

/// <summary>
/// A write refused, with nothing of it landed, because another activation of the partition has loaded it since this
/// one's lease was taken. The activation that holds the lost lease is stale: it must stop writing and go.
/// </summary>
[GenerateSerializer, Alias("registry.IndexLeaseLostException")]
public sealed class IndexLeaseLostException(string message) : Orleans.Runtime.OrleansException(message)
{
    public IndexLeaseLostException(int partition)
        : this($"Index partition {partition} was loaded by another activation; this activation's writes are refused.")
    {
    }
}
