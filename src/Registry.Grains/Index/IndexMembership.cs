using Microsoft.Extensions.Logging;
using Orleans.Storage;
using Registry.Abstractions;
using Registry.Grains.Devices;

namespace Registry.Grains.Index;

/// <summary>
/// The index protocol, whole: how one device keeps its entry in the device index (<see cref="DeviceIndexGrain"/>
/// partitions) so that listing, statistics and export never miss a registered device.
/// <list type="number">
/// <item>The index is a <b>superset</b> of the registry. An entry is added (or re-flagged, when the status changes)
/// <b>before</b> the device is written, and removed <b>after</b> the device is deleted. A crash between the two
/// steps leaves a phantom entry (an id with no device, or a stale status flag), never a device the index misses.</item>
/// <item><b>Readers drop phantoms.</b> Whoever reads devices through the index (listing) asks each device with
/// <see cref="IIndexedDevice.ReadForIndex"/>; inside the device's own turn, so it cannot race a create or delete of
/// that device, a phantom removes itself and a stale flag is corrected.</item>
/// <item><b>A failed write reconciles.</b> A storage write that throws may or may not have landed: the device re-reads
/// storage and makes its entry say what storage says. If storage cannot even be read, the activation goes (the next
/// call starts from storage) and the partition is asked to check the entry until storage answers.</item>
/// <item><b>A repair timer</b> retries an entry that could not be brought in line (a delete whose index removal
/// failed, a reader's repair that failed), every <see cref="RegistryIndexOptions.RepairInterval"/>, keeping the
/// activation alive until it succeeds.</item>
/// <item><b>Partitions verify themselves</b> when they activate (after a restart): each entry is checked with
/// <see cref="IIndexedDevice.Verify"/> in the background, so phantoms left by a crash leave the statistics
/// without anyone listing (<see cref="DeviceIndexGrain"/>); where device rows can be scanned by partition, only the
/// entries their stored rows do not confirm are checked (<see cref="StoredPartitionRows"/>).</item>
/// </list>
/// One instance belongs to one <see cref="DeviceGrain"/> activation and runs only inside its turns.
/// </summary>
internal sealed partial class IndexMembership(
    IGrainBase grain,
    IGrainFactory grains,
    string deviceId,
    DeviceStorage state,
    RegistryIndexOptions options,
    ILogger logger)
{
    private IGrainTimer? _repair;

    private int PartitionNumber => DevicePartitioner.PartitionOf(deviceId, options.Partitions);

    private IDeviceIndexGrain Partition => grains.GetGrain<IDeviceIndexGrain>(PartitionNumber);

    /// <summary>
    /// Loads the device's state on its activation's first call. An id its partition does not hold is not stored (the
    /// partition, once loaded, is a superset of the stored devices), so the storage read is skipped: a create then costs
    /// the index write and the device write only.
    /// </summary>
    public async Task Load()
    {
        if (state.Loaded)
        {
            return;
        }
        if (await grains.GetGrain<IIndexLookup>(PartitionNumber).Contains(deviceId))
        {
            await state.ReadStateAsync();
        }
        else
        {
            state.AssumeAbsent();
        }
    }

    /// <summary>Step one of a create or status change: the entry says what <paramref name="next"/> will be, before it is written.</summary>
    public Task AddBeforeWrite(DeviceIdentity next) => Partition.Upsert([new IndexEntry(deviceId, IsEnabled(next))]);

    /// <summary>
    /// Runs a storage write. On failure the caller gets the error, and the device re-reads what storage really holds
    /// (the write may have landed even though it threw) and makes the index entry agree with it: a create that did
    /// not land leaves no phantom, a status change that did not land leaves no wrong count. When storage cannot even
    /// be read, the activation goes, so the next call starts from storage. A failed write may still land (its answer timed
    /// out, and storage goes on with it): unless storage refused it, the partition is told first to settle the entry once
    /// it no longer can (<see cref="IIndexVerification.SettleLater"/>), and keeps that in storage across its restarts.
    /// </summary>
    public async Task Write(Func<Task> write, DeviceIdentity? previous)
    {
        try
        {
            await write();
        }
        catch (Exception e)
        {
            state.State.Identity = previous;
            // Before the read-back, not after: a read-back that finds nothing removes the entry, and the partition then
            // stores its mark in the entry's place in the same write. Asked after, a restart between the removal and the
            // ask lost the mark, and a write landing after that was a stored device no listing or count saw.
            if (e is not InconsistentStateException && e.InnerException is not InconsistentStateException)
            {
                await SettleLater();
            }
            var read = await ReconcileAfterFailedWrite();
            if (!read && e is not StorageUnavailableException)
            {
                // Storage refused the write (say, a conflict with a row an earlier write left after it timed out) and
                // could not be read back: what the device is now is not known, so the caller is told to retry (503), which
                // meets the stored row, instead of the refusal escaping as a server error (500001).
                throw new StorageUnavailableException("Storage refused the write and could not be read back: whether the device changed is not known. Retry it.");
            }
            throw;
        }
    }

    /// <summary>
    /// The step after a create's or status change's write: the entry is written again as step one wrote it, which changes
    /// nothing (and writes nothing) unless another activation of this device took it out or re-flagged it in between.
    /// Orleans' default directory lets a second activation of a device live while a dead silo's share of the directory is
    /// taken over: the old one, being deactivated by its silo, still finishes its write, and the new one, asked by a
    /// partition's verification pass or a replayed import line, read storage before that write landed and removed the
    /// entry as a phantom. The device was stored and never listed or counted (an import whose silo was killed, 2 of 20,000
    /// devices, stop 47). With <see cref="Sync"/>'s read after a removal, one of the two activations always sees the
    /// other's step: docs/invariants.md §3.
    /// </summary>
    public async Task ConfirmAfterWrite(DeviceIdentity written)
    {
        try
        {
            await Partition.Upsert([new IndexEntry(deviceId, IsEnabled(written))]);
        }
        catch (Exception ex)
        {
            LogIndexRepairScheduled(logger, ex, deviceId);
            ScheduleRepair();
        }
    }

    /// <summary>
    /// The last step of a delete, which has already succeeded: if the entry cannot be dropped now, the repair timer
    /// keeps trying so statistics stop counting the device after a bounded delay.
    /// </summary>
    public async Task RemoveAfterDelete()
    {
        try
        {
            await Partition.Remove([deviceId]);
        }
        catch (Exception ex)
        {
            LogIndexRepairScheduled(logger, ex, deviceId);
            ScheduleRepair();
        }
    }

    /// <summary>
    /// See <see cref="IIndexedDevice.ReadForIndex"/>. A reader is never failed by a repair: a failed one is retried by the timer.
    /// Only an activation the read itself started goes afterwards: one already in use (an open session, a heartbeat the
    /// monitor is judging, a deadline it keeps, a recent request) keeps what it holds in memory. A cursor walk over a
    /// registry whose devices had gone idle left every device it listed active for <c>DeviceIdleMinutes</c>: at a million
    /// devices, gigabytes held for five minutes by one client paging through the registry (a durable walk also reads
    /// each device from storage; issue 8, 2026-12-06). The same holds for a partition's verification pass: a partition
    /// activates anew after a restart, and also when the silo that held it fails, and the devices of surviving silos are
    /// then active and must not lose their state.
    /// </summary>
    public async Task<DeviceIdentity?> ReadForIndex(bool indexedAsEnabled)
    {
        var inUse = state.Loaded;
        await Load();
        var identity = state.State.Identity;
        if (identity is null || IsEnabled(identity) != indexedAsEnabled)
        {
            try
            {
                await Sync();
            }
            catch (Exception ex)
            {
                LogIndexRepairScheduled(logger, ex, deviceId);
                ScheduleRepair();
            }
        }
        if (_repair is null && !inUse)
        {
            grain.DeactivateOnIdle();
        }
        // What storage holds after the repair's read: a device another activation stored meanwhile is listed, not skipped.
        return state.State.Identity;
    }

    /// <summary>See <see cref="IIndexedDevice.Verify"/>: the read of <see cref="ReadForIndex"/>, whose activation goes unless it was in use.</summary>
    public Task Verify(bool indexedAsEnabled) => ReadForIndex(indexedAsEnabled);

    /// <summary>See <see cref="IIndexedDevice.Reconcile"/>.</summary>
    public async Task Reconcile()
    {
        await Load();
        await Sync();
    }

    /// <summary>Re-reads the device after a failed write and makes its entry agree; false when storage could not be read.</summary>
    private async Task<bool> ReconcileAfterFailedWrite()
    {
        var read = false;
        try
        {
            await state.ReadStateAsync();
            read = true;
            await Sync();
        }
        catch (Exception ex)
        {
            LogReconcileFailed(logger, ex, deviceId);
            grain.DeactivateOnIdle();
            // The entry step one added may be a phantom now, and this activation goes: the partition checks it once storage
            // answers, so statistics do not count it until a listing happens to meet it.
            try
            {
                await grains.GetGrain<IIndexVerification>(PartitionNumber).CheckLater(deviceId);
            }
            catch (Exception checkEx)
            {
                LogIndexRepairScheduled(logger, checkEx, deviceId);
            }
        }
        return read;
    }

    /// <summary>Asks the partition to settle this device's entry once its failed write can no longer land; logged when it cannot be asked.</summary>
    private async Task SettleLater()
    {
        try
        {
            await grains.GetGrain<IIndexVerification>(PartitionNumber).SettleLater(deviceId);
        }
        catch (Exception ex)
        {
            LogSettleNotAsked(logger, ex.Message, deviceId);
        }
    }

    /// <summary>
    /// Makes this device's index entry say what its state says, present with its status or absent, then reads storage
    /// again and, if it holds something else now, says that. The state was read before the entry's change: a second
    /// activation of this device (see <see cref="ConfirmAfterWrite"/>) may have written since, and an entry removed or
    /// re-flagged after that write would hide the device it stored. Whichever of the two changes the entry last, either
    /// this read sees the other's write or the other's confirmation sees this change.
    /// </summary>
    private async Task Sync()
    {
        var synced = Entry();
        await Write(synced);
        await state.ReadStateAsync();
        if (Entry() != synced)
        {
            await Write(Entry());
        }
    }

    /// <summary>The entry this device's state calls for: its status flag, or null when there is no device.</summary>
    private bool? Entry() => state.State.Identity is { } identity ? IsEnabled(identity) : null;

    private Task Write(bool? entry) => entry is { } enabled
        ? Partition.Upsert([new IndexEntry(deviceId, enabled)])
        : Partition.Remove([deviceId]);

    private void ScheduleRepair()
    {
        _repair ??= grain.RegisterGrainTimer(async () =>
        {
            try
            {
                await Sync();
                _repair?.Dispose();
                _repair = null;
            }
            catch (Exception ex)
            {
                LogIndexRepairScheduled(logger, ex, deviceId);
            }
        }, new GrainTimerCreationOptions { DueTime = options.RepairInterval, Period = options.RepairInterval, KeepAlive = true });
    }

    private static bool IsEnabled(DeviceIdentity identity) => identity.Status == DeviceStatus.Enabled;

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "The index entry of device {DeviceId} could not be brought in line with its state; retrying on a timer")]
    private static partial void LogIndexRepairScheduled(ILogger logger, Exception ex, string deviceId);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Device {DeviceId}'s failed write may still land, and its index partition could not be asked to settle its entry ({Reason}); the partition's next activation verifies it")]
    private static partial void LogSettleNotAsked(ILogger logger, string reason, string deviceId);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "After a failed write, device {DeviceId} could not re-read its state; the activation is dropped so the next call starts from storage")]
    private static partial void LogReconcileFailed(ILogger logger, Exception ex, string deviceId);
}
