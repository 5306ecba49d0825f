using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Registry.Abstractions;

namespace Registry.Grains.Index;

/// <summary>
/// One partition of the device index. Reentrant with group commit: changes that arrive while a write is in
/// flight are applied in memory and share the next write, so N concurrent creates in a partition cost about
/// two storage writes, not N. Every change call returns only after a write that includes it has succeeded.
/// <para>
/// On activation (after a restart, or a move to another silo) a partition verifies, in the background, every entry it
/// loaded from storage against its device (<see cref="IIndexedDevice.Verify"/>, <see cref="VerifyConcurrency"/>
/// devices at a time): phantoms left by a crash between an index write and a device write drop out of the statistics
/// within one pass, without anyone listing. <see cref="IndexMembership"/> explains the protocol whole.
/// </para>
/// </summary>
[Reentrant]
public sealed partial class DeviceIndexGrain(
    [PersistentState("index", StorageNames.Index)] IPersistentState<DeviceIndexState> state,
    ILogger<DeviceIndexGrain> logger) : Grain, IDeviceIndexGrain, IIndexVerification
{
    /// <summary>Device reads in flight during a verification pass: enough to finish a 4,000-id partition in seconds, few enough not to crowd out requests.</summary>
    public const int VerifyConcurrency = 16;

    private readonly SortedList<string, bool> _entries = new(StringComparer.Ordinal);
    private Task _lastWrite = Task.CompletedTask;
    private Task? _pendingWrite;
    private Task _verification = Task.CompletedTask;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var entry in state.State.Entries)
        {
            _entries[entry.DeviceId] = entry.Enabled;
        }
        // Only what storage held needs checking: entries this activation adds come from live device grains following the protocol.
        if (state.State.Entries.Count > 0)
        {
            _verification = Verify(state.State.Entries.ToArray());
        }
        return Task.CompletedTask;
    }

    public Task WhenVerified() => _verification;

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

    /// <summary>
    /// Asks each device to confirm its entry; a device without state removes its entry, a stale flag is corrected, each
    /// inside the device's own turn. An entry that cannot be checked now stays (the index may over-count, never miss).
    /// </summary>
    private async Task Verify(IndexEntry[] loaded)
    {
        // Let the activation finish first: the devices' repairs call back into this partition.
        await Task.Yield();
        var failed = 0;
        for (var start = 0; start < loaded.Length; start += VerifyConcurrency)
        {
            var batch = new ArraySegment<IndexEntry>(loaded, start, Math.Min(VerifyConcurrency, loaded.Length - start));
            var results = await Task.WhenAll(batch.Select(async entry =>
            {
                try
                {
                    await GrainFactory.GetGrain<IIndexedDevice>(entry.DeviceId).Verify(entry.Enabled);
                    return true;
                }
                catch (Exception ex)
                {
                    LogVerifyEntryFailed(logger, ex, entry.DeviceId);
                    return false;
                }
            }));
            failed += results.Count(ok => !ok);
        }
        LogVerified(logger, this.GetPrimaryKeyLong(), loaded.Length, failed);
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Index verification could not check device {DeviceId}; its entry stays until a listing or the next activation checks it")]
    private static partial void LogVerifyEntryFailed(ILogger logger, Exception ex, string deviceId);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Debug, Message = "Index partition {Partition} verified {Count} entries loaded from storage ({Failed} could not be checked)")]
    private static partial void LogVerified(ILogger logger, long partition, int count, int failed);

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
