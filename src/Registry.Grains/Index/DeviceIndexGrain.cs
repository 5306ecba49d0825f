using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;

namespace Registry.Grains.Index;

/// <summary>
/// One partition of the device index. Reentrant with group commit: changes that arrive while a write is in
/// flight are applied in memory and share the next write, so N concurrent creates in a partition cost about
/// two storage writes, not N. A write carries only the changes made since the last one (<see cref="IIndexStore"/>
/// stores an entry per id), so it costs the change, not the partition. Every change call returns only after a write
/// that includes it has succeeded.
/// <para>
/// On activation (after a restart, or a move to another silo) a partition verifies, in the background, every entry it
/// loaded from storage against its device (<see cref="IIndexedDevice.Verify"/>, <see cref="VerifyConcurrency"/>
/// devices at a time): phantoms left by a crash between an index write and a device write drop out of the statistics
/// within one pass, without anyone listing. <see cref="IndexMembership"/> explains the protocol whole.
/// </para>
/// <para>
/// Kept alive, not collected when idle: a partition is what the registry must hold in memory anyway (its ids are what
/// proves a device absent without a storage read), and each reactivation would reload it and verify every device in it.
/// </para>
/// </summary>
[Reentrant, KeepAlive]
public sealed partial class DeviceIndexGrain(
    IIndexStore store,
    ILogger<DeviceIndexGrain> logger) : Grain, IDeviceIndexGrain, IIndexVerification, IIndexLookup
{
    /// <summary>Device reads in flight during a verification pass: enough to finish a 4,000-id partition in seconds, few enough not to crowd out requests.</summary>
    public const int VerifyConcurrency = 16;

    private readonly IndexEntries _entries = new();
    /// <summary>Changes not yet handed to a write, by id (the last change of an id wins).</summary>
    private Dictionary<string, Change> _unwritten = new(StringComparer.Ordinal);
    private Task _lastWrite = Task.CompletedTask;
    private Task? _pendingWrite;
    private Task _verification = Task.CompletedTask;
    /// <summary>What this activation added to <see cref="RegistryMetrics.Devices"/>: taken back when it deactivates.</summary>
    private int _counted;

    private int Partition => (int)this.GetPrimaryKeyLong();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var loaded = await store.Load(Partition);
        foreach (var entry in loaded)
        {
            _entries.Set(entry.DeviceId, entry.Enabled);
        }
        // Only what storage held needs checking: entries this activation adds come from live device grains following the protocol.
        if (loaded.Count > 0)
        {
            _verification = Verify(_entries.ToArray());
        }
        CountDevices();
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // The partition's next activation (here or on another silo) counts its devices again.
        RegistryMetrics.Devices.Add(-_counted);
        _counted = 0;
        return Task.CompletedTask;
    }

    /// <summary>Moves <see cref="RegistryMetrics.Devices"/> by what the entries changed since the last count, as the statistics read them.</summary>
    private void CountDevices()
    {
        if (_entries.Count != _counted)
        {
            RegistryMetrics.Devices.Add(_entries.Count - _counted);
            _counted = _entries.Count;
        }
    }

    public Task WhenVerified() => _verification;

    public Task<bool> Contains(string deviceId) => Task.FromResult(_entries.TryGet(deviceId, out _));

    public Task Upsert(IReadOnlyList<IndexEntry> entries)
    {
        var changed = false;
        foreach (var entry in entries)
        {
            var before = Current(entry.DeviceId);
            if (_entries.Set(entry.DeviceId, entry.Enabled))
            {
                Track(entry.DeviceId, before, entry.Enabled);
                changed = true;
            }
        }
        CountDevices();
        return changed || _lastWrite.IsFaulted ? ScheduleWrite() : _lastWrite;
    }

    public Task Remove(IReadOnlyList<string> deviceIds)
    {
        var changed = false;
        foreach (var id in deviceIds)
        {
            var before = Current(id);
            if (_entries.Remove(id))
            {
                Track(id, before, null);
                changed = true;
            }
        }
        CountDevices();
        return changed || _lastWrite.IsFaulted ? ScheduleWrite() : _lastWrite;
    }

    public Task<IndexPage> Page(string? afterDeviceId, int maxCount) => Task.FromResult(_entries.Page(afterDeviceId, maxCount));

    public Task<IndexCounts> Counts() =>
        Task.FromResult(new IndexCounts(_entries.EnabledCount, _entries.Count - _entries.EnabledCount));

    /// <summary>
    /// Joins the write that has not started yet, or queues one behind the write in flight. A write takes the unwritten
    /// changes when it starts, so every change made before that moment is in it.
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
        // Yield first so ScheduleWrite publishes this task before the changes below are taken.
        await Task.Yield();
        try
        {
            await previous;
        }
        catch
        {
            // The previous write's callers saw its failure; its changes are back among the unwritten ones.
        }

        _pendingWrite = null;
        var changes = _unwritten;
        _unwritten = new(StringComparer.Ordinal);
        if (changes.Count == 0)
        {
            return;
        }
        try
        {
            await store.Apply(Partition, changes.Select(c => new IndexChange(c.Key, c.Value.Wanted)).ToArray());
        }
        catch
        {
            // No caller of this write learns of success, so none of its changes happened: each entry goes back to what
            // was last acknowledged (a create that failed here leaves no phantom in the counts), unless a later change
            // replaced it meanwhile. Part of the write may have landed, so the entry goes again with the next write, once:
            // a removal that was itself such a restore is not queued again when it fails. What it would have cleared is
            // an entry of a device that does not exist, which the partition's next activation verifies away. Queued
            // again, removals piled up in every partition whose writes failed, each write carried them all, took longer
            // than the storage timeout and failed, and no partition wrote again (a 100k import on a slow Azurite).
            foreach (var (id, failed) in changes)
            {
                if (_unwritten.TryGetValue(id, out var later))
                {
                    _unwritten[id] = later with { Acknowledged = failed.Acknowledged };
                }
                else
                {
                    Restore(id, failed.Acknowledged);
                    if (failed is not { Acknowledged: null, Wanted: null })
                    {
                        _unwritten[id] = new Change(failed.Acknowledged, failed.Acknowledged);
                    }
                }
            }
            CountDevices();
            throw;
        }
    }

    private bool? Current(string id) => _entries.TryGet(id, out var enabled) ? enabled : null;

    private void Track(string id, bool? before, bool? wanted) =>
        _unwritten[id] = _unwritten.TryGetValue(id, out var pending) ? pending with { Wanted = wanted } : new Change(before, wanted);

    private void Restore(string id, bool? enabled)
    {
        if (enabled is { } flag)
        {
            _entries.Set(id, flag);
        }
        else
        {
            _entries.Remove(id);
        }
    }

    /// <summary>
    /// An unwritten change of one entry: what its last acknowledged write left (null: absent), and what it must now be.
    /// </summary>
    private readonly record struct Change(bool? Acknowledged, bool? Wanted);

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
}
