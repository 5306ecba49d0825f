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
    /// <summary>Ids whose writes fail, each with the failures left (null: until <see cref="StopFailing"/>).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int?> Failing = new(StringComparer.Ordinal);

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
    public static void FailWritesCarrying(string deviceId) => Failing[deviceId] = null;

    /// <summary>The next write carrying <paramref name="deviceId"/> throws without landing; the ones after it are stored.</summary>
    public static void FailNextWriteCarrying(string deviceId) => Failing[deviceId] = 1;

    public static void StopFailing(string deviceId) => Failing.TryRemove(deviceId, out _);

    public Task<IReadOnlyList<IndexEntry>> Load(int partition, IndexLease? lease = null) => inner.Load(partition, lease);

    /// <summary>As the durable store's (<see cref="Registry.Host.TableIndexStore.MaxLeasedChanges"/>), whatever the inner store's, so the partitions write as they do in durable mode.</summary>
    public int MaxChangesPerWrite => Registry.Host.TableIndexStore.MaxLeasedChanges;

    public async Task Apply(int partition, IReadOnlyList<IndexChange> changes, IndexLease? lease = null)
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
        if (changes.FirstOrDefault(c => Failing.ContainsKey(c.DeviceId)) is { DeviceId: { } failing })
        {
            if (Failing.TryGetValue(failing, out var left) && left is { } count)
            {
                Failing.TryUpdate(failing, count - 1, left);
                if (count <= 1)
                {
                    Failing.TryRemove(failing, out _);
                }
            }
            throw new InjectedStorageException();
        }
        if (!faults.TryTake(out var landThenThrow))
        {
            await inner.Apply(partition, changes, lease);
            return;
        }
        if (landThenThrow)
        {
            await inner.Apply(partition, changes.Take(Math.Max(1, changes.Count / 2)).ToArray(), lease);
        }
        throw new InjectedStorageException();
    }
}
