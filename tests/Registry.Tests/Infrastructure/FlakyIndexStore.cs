using Registry.Abstractions;
using Registry.Grains.Index;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// An index store that fails on demand, like <see cref="FlakyGrainStorage"/> for grain storage. With
/// <c>landThenThrow</c> a write fails part-way: the first half of its changes (at least one) land, then it throws,
/// as a write of several entity-group transactions can. A write can also be held (<see cref="HoldWritesCarrying"/>) or
/// failed (<see cref="FailWritesCarrying"/>) by an id it carries, which a test picks unique to itself.
/// </summary>
public sealed class FlakyIndexStore(IIndexStore inner, StorageFaults faults) : IIndexStore
{
    /// <summary>Every change asked of any such store, failed or not, in order (in-process silos share it, as the faults).</summary>
    public static readonly System.Collections.Concurrent.ConcurrentQueue<IndexChange> Asked = new();

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, (TaskCompletionSource Reached, Task Gate)> Holds = new(StringComparer.Ordinal);
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Failing = new(StringComparer.Ordinal);

    /// <summary>
    /// The next write carrying <paramref name="deviceId"/> waits for <paramref name="gate"/> before it reaches storage;
    /// the task returned completes when that write has arrived here.
    /// </summary>
    public static Task HoldWritesCarrying(string deviceId, Task gate)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Holds[deviceId] = (reached, gate);
        return reached.Task;
    }

    /// <summary>Every write carrying <paramref name="deviceId"/> throws without landing, until <see cref="StopFailing"/>.</summary>
    public static void FailWritesCarrying(string deviceId) => Failing[deviceId] = true;

    public static void StopFailing(string deviceId) => Failing.TryRemove(deviceId, out _);

    public Task<IReadOnlyList<IndexEntry>> Load(int partition) => inner.Load(partition);

    /// <summary>As the durable store's (<see cref="Registry.Host.TableIndexStore.MaxTransaction"/>), whatever the inner store's, so the partitions write as they do in durable mode.</summary>
    public int MaxChangesPerWrite => Registry.Host.TableIndexStore.MaxTransaction;

    public async Task Apply(int partition, IReadOnlyList<IndexChange> changes)
    {
        foreach (var change in changes)
        {
            Asked.Enqueue(change);
        }
        foreach (var change in changes)
        {
            if (Holds.TryRemove(change.DeviceId, out var hold))
            {
                hold.Reached.SetResult();
                await hold.Gate;
            }
        }
        if (changes.Any(c => Failing.ContainsKey(c.DeviceId)))
        {
            throw new InjectedStorageException();
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
