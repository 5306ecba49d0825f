using Registry.Abstractions;
using Registry.Grains.Index;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// An index store whose loads answer when the test says; <see cref="Asked"/> lists the partitions that reached it, in
/// order. Each answer is <paramref name="entries"/> of the partition (by default one enabled entry, <c>device-{partition}</c>).
/// </summary>
public sealed class HeldIndexLoads(Func<int, IReadOnlyList<IndexEntry>>? entries = null) : IIndexStore
{
    private readonly Func<int, IReadOnlyList<IndexEntry>> _entries = entries ?? (p => [new IndexEntry($"device-{p}", true)]);
    private readonly Lock _lock = new();
    private readonly Dictionary<int, TaskCompletionSource<IReadOnlyList<IndexEntry>>> _held = [];
    private readonly List<int> _asked = [];
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _released;

    public List<int> Asked { get { lock (_lock) { return [.. _asked]; } } }

    public int MaxChangesPerWrite => 100;

    public Task<IReadOnlyList<IndexEntry>> Load(int partition, IndexLease? lease = null)
    {
        var held = new TaskCompletionSource<IReadOnlyList<IndexEntry>>(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource arrived;
        lock (_lock)
        {
            _asked.Add(partition);
            _held[partition] = held;
            (arrived, _arrived) = (_arrived, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            if (_released)
            {
                held.SetResult(_entries(partition));
            }
        }
        arrived.SetResult();
        return held.Task;
    }

    /// <summary>Waits until <paramref name="count"/> loads have reached the store.</summary>
    public async Task UntilAsked(int count)
    {
        while (true)
        {
            Task arrived;
            lock (_lock)
            {
                if (_asked.Count >= count)
                {
                    return;
                }
                arrived = _arrived.Task;
            }
            await arrived.WaitAsync(TestContext.Current.CancellationToken);
        }
    }

    public void Answer(int partition)
    {
        lock (_lock)
        {
            _held[partition].SetResult(_entries(partition));
        }
    }

    /// <summary>Fails the load of <paramref name="partition"/> held now with <paramref name="failure"/>.</summary>
    public void Fail(int partition, Exception failure)
    {
        lock (_lock)
        {
            _held[partition].SetException(failure);
        }
    }

    /// <summary>Answers every load held now and every one that comes later, at once.</summary>
    public void Release()
    {
        lock (_lock)
        {
            _released = true;
            foreach (var (partition, held) in _held)
            {
                held.TrySetResult(_entries(partition));
            }
        }
    }

    public Task Apply(int partition, IReadOnlyList<IndexChange> changes, IndexLease? lease = null) => Task.CompletedTask;
}
