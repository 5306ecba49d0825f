using Orleans.Concurrency;
using Registry.Abstractions;

namespace Registry.Grains.Index;

/// <summary>
/// One partition of the device index. Reentrant with group commit: changes that arrive while a write is in
/// flight are applied in memory and share the next write, so N concurrent creates in a partition cost about
/// two storage writes, not N. Every change call returns only after a write that includes it has succeeded.
/// </summary>
[Reentrant]
public sealed class DeviceIndexGrain(
    [PersistentState("index", StorageNames.Index)] IPersistentState<DeviceIndexState> state) : Grain, IDeviceIndexGrain
{
    private readonly SortedList<string, bool> _entries = new(StringComparer.Ordinal);
    private Task _lastWrite = Task.CompletedTask;
    private Task? _pendingWrite;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var entry in state.State.Entries)
        {
            _entries[entry.DeviceId] = entry.Enabled;
        }
        return Task.CompletedTask;
    }

    public Task Upsert(IReadOnlyList<IndexEntry> entries)
    {
        var changed = false;
        foreach (var entry in entries)
        {
            if (!_entries.TryGetValue(entry.DeviceId, out var enabled) || enabled != entry.Enabled)
            {
                _entries[entry.DeviceId] = entry.Enabled;
                changed = true;
            }
        }
        return changed || _lastWrite.IsFaulted ? ScheduleWrite() : _lastWrite;
    }

    public Task Remove(IReadOnlyList<string> deviceIds)
    {
        var changed = false;
        foreach (var id in deviceIds)
        {
            changed |= _entries.Remove(id);
        }
        return changed || _lastWrite.IsFaulted ? ScheduleWrite() : _lastWrite;
    }

    public Task<IndexPage> Page(string? afterDeviceId, int maxCount)
    {
        var keys = _entries.Keys;
        var start = afterDeviceId is null ? 0 : FirstAfter(keys, afterDeviceId);
        var count = Math.Clamp(keys.Count - start, 0, Math.Max(maxCount, 0));
        var page = new IndexEntry[count];
        for (var i = 0; i < count; i++)
        {
            page[i] = new IndexEntry(keys[start + i], _entries.Values[start + i]);
        }
        return Task.FromResult(new IndexPage(page, start + count < keys.Count));
    }

    public Task<IndexCounts> Counts()
    {
        long enabled = 0;
        foreach (var value in _entries.Values)
        {
            if (value)
            {
                enabled++;
            }
        }
        return Task.FromResult(new IndexCounts(enabled, _entries.Count - enabled));
    }

    /// <summary>
    /// Joins the write that has not started yet, or queues one behind the write in flight. A write snapshots
    /// the entries when it starts, so every change made before that moment is in it.
    /// </summary>
    private Task ScheduleWrite()
    {
        if (_pendingWrite is null)
        {
            _pendingWrite = WriteAfter(_lastWrite);
            _lastWrite = _pendingWrite;
        }
        return _pendingWrite;
    }

    private async Task WriteAfter(Task previous)
    {
        // Yield first so ScheduleWrite publishes this task before the snapshot below can be taken.
        await Task.Yield();
        try
        {
            await previous;
        }
        catch
        {
            // The previous write's callers saw its failure; this write carries its changes again.
        }

        _pendingWrite = null;
        state.State.Entries = new List<IndexEntry>(_entries.Count);
        for (var i = 0; i < _entries.Count; i++)
        {
            state.State.Entries.Add(new IndexEntry(_entries.Keys[i], _entries.Values[i]));
        }
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Storage may now disagree with our ETag; a fresh activation reloads what storage holds.
            DeactivateOnIdle();
            throw;
        }
    }

    private static int FirstAfter(IList<string> keys, string after)
    {
        int lo = 0, hi = keys.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (string.CompareOrdinal(keys[mid], after) <= 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }
}
