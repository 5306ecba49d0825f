namespace Registry.Grains;

/// <summary>
/// Items queued while a batch is in flight go together as the next one, up to <c>maxCount</c> items (and, with a
/// <c>weight</c>, up to <c>maxWeight</c> of it; an item heavier than that goes alone), with no timer (a lone item goes
/// at once): one sending loop at a time, off the caller's scheduler, sending in the order items were added. Its
/// <c>send</c> handles its own failures.
/// </summary>
public sealed class GroupCommit<T>(int maxCount, Func<T, int>? weight = null, int maxWeight = int.MaxValue)
{
    private readonly Lock _gate = new();
    private readonly List<T> _queued = [];
    private Task? _sending;

    /// <summary>What is queued or in flight; completed when nothing is.</summary>
    public Task Draining
    {
        get
        {
            lock (_gate)
            {
                return _sending ?? Task.CompletedTask;
            }
        }
    }

    public void Add(T item, Func<T[], Task> send)
    {
        lock (_gate)
        {
            _queued.Add(item);
            _sending ??= Task.Run(() => Send(send));
        }
    }

    private async Task Send(Func<T[], Task> send)
    {
        while (true)
        {
            T[] batch;
            lock (_gate)
            {
                if (_queued.Count == 0)
                {
                    _sending = null;
                    return;
                }
                var count = Take();
                batch = [.. _queued.GetRange(0, count)];
                _queued.RemoveRange(0, count);
            }
            await send(batch);
        }
    }

    /// <summary>How many of the queued items the next batch takes (at least one).</summary>
    private int Take()
    {
        var count = Math.Min(maxCount, _queued.Count);
        if (weight is null)
        {
            return count;
        }
        var total = weight(_queued[0]);
        for (var i = 1; i < count; i++)
        {
            total += weight(_queued[i]);
            if (total > maxWeight)
            {
                return i;
            }
        }
        return count;
    }
}
