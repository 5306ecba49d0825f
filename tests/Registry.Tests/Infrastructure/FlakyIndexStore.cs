using Registry.Abstractions;
using Registry.Grains.Index;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// An index store that fails on demand, like <see cref="FlakyGrainStorage"/> for grain storage. With
/// <c>landThenThrow</c> a write fails part-way: the first half of its changes (at least one) land, then it throws,
/// as a write of several entity-group transactions can.
/// </summary>
public sealed class FlakyIndexStore(IIndexStore inner, StorageFaults faults) : IIndexStore
{
    /// <summary>Every change asked of any such store, failed or not, in order (in-process silos share it, as the faults).</summary>
    public static readonly System.Collections.Concurrent.ConcurrentQueue<IndexChange> Asked = new();

    public Task<IReadOnlyList<IndexEntry>> Load(int partition) => inner.Load(partition);

    public async Task Apply(int partition, IReadOnlyList<IndexChange> changes)
    {
        foreach (var change in changes)
        {
            Asked.Enqueue(change);
        }
        if (!faults.TryTake(out var landThenThrow))
        {
            await inner.Apply(partition, changes);
            return;
        }
        if (landThenThrow)
        {
            await inner.Apply(partition, changes.Take(Math.Max(1, changes.Count / 2)).ToArray());
        }
        throw new InjectedStorageException();
    }
}
