using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;

namespace Registry.Grains.Index;

/// <summary>
/// One partition of the device index. Reentrant with group commit: changes that arrive while a write is in
/// flight are applied in memory and share the next write, so N concurrent creates in a partition cost about
/// N / <see cref="IIndexStore.MaxChangesPerWrite"/> + 1 storage writes, not N. A write carries only the changes made since
/// the last one (<see cref="IIndexStore"/> stores an entry per id), so it costs the change, not the partition, and at most
/// <see cref="IIndexStore.MaxChangesPerWrite"/> of them (one storage transaction, within one time bound): more go in the
/// writes that follow, one at a time and in order. Every change call returns only after the write that carries its ids'
/// latest changes has succeeded, and fails only when that write failed.
/// <para>
/// On activation (after a restart, or a move to another silo) a partition verifies, in the background, every entry it
/// loaded from storage against its device (<see cref="IIndexedDevice.Verify"/>, <see cref="VerifyConcurrency"/>
/// devices at a time, and no more than the silo's <see cref="IndexVerificationSlots"/> across its partitions): phantoms
/// left by a crash between an index write and a device write drop out of the statistics within one pass, without anyone
/// listing. <see cref="IndexMembership"/> explains the protocol whole.
/// </para>
/// <para>
/// One activation writes: each claims the partition when it loads (<see cref="IndexLease"/>) and its writes are refused
/// once another activation has loaded it since. A refused write acknowledges nothing (503), and this activation then
/// stops writing and deactivates, so no entry is acknowledged that the activation holding the partition did not load.
/// </para>
/// <para>
/// Kept alive, not collected when idle: a partition is what the registry must hold in memory anyway (its ids are what
/// proves a device absent without a storage read), and each reactivation would reload it and verify every device in it.
/// </para>
/// </summary>
[Reentrant, KeepAlive]
public sealed partial class DeviceIndexGrain(
    IIndexStore store,
    Microsoft.Extensions.Options.IOptions<RegistryIndexOptions> options,
    IndexVerificationSlots slots,
    IHostApplicationLifetime lifetime,
    [FromKeyedServices(RegistryClock.Key)] TimeProvider clock,
    ILogger<DeviceIndexGrain> logger) : Grain, IDeviceIndexGrain, IIndexVerification, IIndexLookup
{
    /// <summary>Device checks a partition's verification pass keeps waiting or in flight; the silo's <see cref="IndexVerificationSlots"/> bound them all.</summary>
    public const int VerifyConcurrency = 16;

    private readonly IndexEntries _entries = new();
    /// <summary>Changes not yet handed to a write, by id (the last change of an id wins), each with the queued write that will carry it.</summary>
    private readonly Dictionary<string, Unwritten> _unwritten = new(StringComparer.Ordinal);
    /// <summary>Writes not started yet, oldest first, each of at most <see cref="IIndexStore.MaxChangesPerWrite"/> ids.</summary>
    private readonly Queue<PartitionWrite> _queued = new();
    /// <summary>The newest of <see cref="_queued"/>, which new ids join while it has room.</summary>
    private PartitionWrite? _tail;
    /// <summary>The write whose changes are with the store now (writes of a partition go one at a time).</summary>
    private PartitionWrite? _inFlight;
    private long _sequence;
    /// <summary>Queued writes up to this one are to be written; later ones hold only restoring changes no caller asked for yet.</summary>
    private long _scheduledThrough;
    private bool _writing;
    private bool _lastWriteFailed;
    private Task _verification = Task.CompletedTask;
    /// <summary>What this activation added to <see cref="RegistryMetrics.Devices"/>: taken back when it deactivates.</summary>
    private int _counted;
    /// <summary>This activation's claim on the partition's stored entries: its writes are refused once another activation loaded them.</summary>
    private readonly IndexLease _lease = new();
    /// <summary>Another activation loaded the partition: this one writes nothing more and goes.</summary>
    private bool _superseded;

    private int Partition => (int)this.GetPrimaryKeyLong();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var stored = ServiceProvider.GetService<StoredPartitionRows>();
        var loadStarted = stored?.Mark() ?? 0;
        var all = await store.Load(Partition, _lease);
        foreach (var entry in all)
        {
            if (entry.SettleBy is { } settleBy)
            {
                // A write that may still land, marked before the partition's last activation ended: unsettled here too.
                _unsettled[entry.DeviceId] = settleBy;
            }
            else
            {
                _entries.Set(entry.DeviceId, entry.Enabled);
            }
        }
        if (_unsettled.Count > 0)
        {
            StartChecks();
        }
        // Only what storage held needs checking: entries this activation adds come from live device grains following the protocol.
        // Where rows can be scanned, an empty partition is checked too: a stored device may have lost its only entry.
        if (_entries.Count > 0 || stored is not null)
        {
            _verification = Verify(_entries.ToArray(), stored, loadStarted);
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

    /// <summary>Ids whose entries <see cref="CheckLater"/> asked to be checked, and the timer that checks them and <see cref="_unsettled"/>.</summary>
    private readonly HashSet<string> _suspects = new(StringComparer.Ordinal);
    private IGrainTimer? _suspectTimer;

    /// <summary>
    /// Ids whose device write failed and may still land (<see cref="SettleLater"/>), each with the time it has settled by.
    /// Kept in this activation's memory only: a partition that reactivates verifies its stored entries anyway.
    /// </summary>
    private readonly Dictionary<string, DateTimeOffset> _unsettled = new(StringComparer.Ordinal);

    public Task CheckLater(string deviceId)
    {
        _suspects.Add(deviceId);
        StartChecks();
        return Task.CompletedTask;
    }

    /// <summary>
    /// See <see cref="IIndexVerification.SettleLater"/>. Without it, a create whose write timed out, found absent by its
    /// read-back, took its entry out, and the write landing after that left a stored device no listing, count or GET saw
    /// (a review under a 0.3 s storage timeout, 8 of 38 such devices, 2026-12-07).
    /// </summary>
    public Task SettleLater(string deviceId)
    {
        if (_superseded)
        {
            return Task.FromException(Superseded());
        }
        _unsettled[deviceId] = clock.GetUtcNow() + options.Value.WriteSettleTime;
        StartChecks();
        // With an entry, the mark goes in the entry's place when a removal of it is written (Write); without one, now.
        return _entries.TryGet(deviceId, out _) ? Task.CompletedTask : Completion([Track(deviceId, null, null)]);
    }

    /// <summary>
    /// Takes the stored marks of settled ids out, for those that have no entry (a settled id with an entry had its mark
    /// replaced by the entry's write). A mark left by a failed write is met by the partition's next activation, already
    /// due, and settled again.
    /// </summary>
    private Task ClearMarks(IEnumerable<string> settled)
    {
        var writes = new HashSet<PartitionWrite>();
        foreach (var id in settled)
        {
            if (!_entries.TryGet(id, out _) && !_unsettled.ContainsKey(id))
            {
                writes.Add(Track(id, null, null));
            }
        }
        return Completion(writes);
    }

    private void StartChecks() =>
        _suspectTimer ??= this.RegisterGrainTimer(CheckSuspects,
            new GrainTimerCreationOptions { DueTime = options.Value.RepairInterval, Period = options.Value.RepairInterval });

    /// <summary>
    /// Each suspect entry checked by its device, as the verification pass does (a phantom removes itself, a stale flag is
    /// corrected); one that cannot be checked yet (storage still away) stays for the next tick. Each unsettled id whose
    /// write can no longer land is reconciled by its device, present or absent, as storage holds it now. Up to
    /// <see cref="VerifyConcurrency"/> devices at a time, as in the pass: one at a time, a partition left with thousands of
    /// suspects by a restart while storage was away waited a storage timeout for each in turn. The partition is
    /// reentrant, so the devices' repairs reach it while this waits.
    /// </summary>
    private async Task CheckSuspects()
    {
        var now = clock.GetUtcNow();
        var unsettledFailures = new CheckFailures();
        var due = _unsettled.Where(u => u.Value <= now).ToArray();
        var settledIds = new List<string>();
        for (var start = 0; start < due.Length && !SiloStopping; start += VerifyConcurrency)
        {
            var batch = new ArraySegment<KeyValuePair<string, DateTimeOffset>>(due, start, Math.Min(VerifyConcurrency, due.Length - start));
            var reconciled = await Task.WhenAll(batch.Select(u => TryCheck(u.Key, device => device.Reconcile(), unsettledFailures)));
            for (var i = 0; i < reconciled.Length; i++)
            {
                // Removed only if no later failure of the same device asked again meanwhile.
                var (id, settled) = batch[i];
                if (reconciled[i] && _unsettled.TryGetValue(id, out var current) && current == settled)
                {
                    _unsettled.Remove(id);
                    settledIds.Add(id);
                }
            }
        }
        if (settledIds.Count > 0)
        {
            try
            {
                await ClearMarks(settledIds);
            }
            catch (Exception ex)
            {
                LogMarksNotCleared(logger, Partition, settledIds.Count, ex.Message);
            }
        }
        var suspectFailures = new CheckFailures();
        var suspects = _suspects.ToArray();
        for (var start = 0; start < suspects.Length && !SiloStopping; start += VerifyConcurrency)
        {
            var batch = new List<(string Id, bool Enabled)>(VerifyConcurrency);
            foreach (var id in new ArraySegment<string>(suspects, start, Math.Min(VerifyConcurrency, suspects.Length - start)))
            {
                if (_entries.TryGet(id, out var enabled))
                {
                    batch.Add((id, enabled));
                }
                else
                {
                    _suspects.Remove(id); // gone already
                }
            }
            var checkedNow = await Task.WhenAll(batch.Select(s => TryCheck(s.Id, device => device.Verify(s.Enabled), suspectFailures)));
            for (var i = 0; i < checkedNow.Length; i++)
            {
                if (checkedNow[i])
                {
                    _suspects.Remove(batch[i].Id);
                }
            }
        }
        // One line a round, without a stack: storage away for minutes would otherwise log each entry every round.
        if (unsettledFailures.First is { } unsettled)
        {
            LogSettleFailed(logger, Partition, unsettledFailures.Count, unsettled.DeviceId, unsettled.Error.Message);
        }
        if (suspectFailures.First is { } suspect)
        {
            LogSuspectsFailed(logger, Partition, suspectFailures.Count, suspect.DeviceId, suspect.Error.Message);
        }
        if (_suspects.Count == 0 && _unsettled.Count == 0)
        {
            _suspectTimer?.Dispose();
            _suspectTimer = null;
        }
    }

    /// <summary>
    /// Whether the partition may hold <paramref name="deviceId"/>: it has its entry, or a write of it may still land
    /// (<see cref="_unsettled"/>). Like every read, refused once another activation holds the partition: this one's memory
    /// misses what that one acknowledged, and a false here lets a device skip its storage read and take itself for absent.
    /// </summary>
    public Task<bool> Contains(string deviceId) =>
        _superseded ? Task.FromException<bool>(Superseded()) : Task.FromResult(_entries.TryGet(deviceId, out _) || _unsettled.ContainsKey(deviceId));

    public Task Upsert(IReadOnlyList<IndexEntry> entries)
    {
        if (_superseded)
        {
            return Task.FromException(Superseded());
        }
        var writes = new HashSet<PartitionWrite>();
        foreach (var entry in entries)
        {
            var before = Current(entry.DeviceId);
            if (_entries.Set(entry.DeviceId, entry.Enabled))
            {
                writes.Add(Track(entry.DeviceId, before, entry.Enabled));
            }
            else if (Carrying(entry.DeviceId) is { } carrying)
            {
                writes.Add(carrying);
            }
        }
        CountDevices();
        return Completion(writes);
    }

    public Task Remove(IReadOnlyList<string> deviceIds)
    {
        if (_superseded)
        {
            return Task.FromException(Superseded());
        }
        var writes = new HashSet<PartitionWrite>();
        foreach (var id in deviceIds)
        {
            var before = Current(id);
            if (_entries.Remove(id))
            {
                writes.Add(Track(id, before, null));
            }
            else if (Carrying(id) is { } carrying)
            {
                writes.Add(carrying);
            }
        }
        CountDevices();
        return Completion(writes);
    }

    public Task<IndexPage> Page(string? afterDeviceId, int maxCount) =>
        _superseded ? Task.FromException<IndexPage>(Superseded()) : Task.FromResult(_entries.Page(afterDeviceId, maxCount));

    public Task<IndexCounts> Counts() => _superseded
        ? Task.FromException<IndexCounts>(Superseded())
        : Task.FromResult(new IndexCounts(_entries.EnabledCount, _entries.Count - _entries.EnabledCount));

    /// <summary>
    /// What a change call returns: the writes carrying its ids' latest changes, each queued or in flight. It completes when
    /// they all succeeded and fails when one of them failed; another write's outcome is not its own. A call that changed
    /// nothing still waits for a write carrying one of its ids (an entry is durable only once that write succeeded), and,
    /// after a failed write, still starts the writes queued since (the restoring changes of the failed one).
    /// </summary>
    private Task Completion(HashSet<PartitionWrite> writes)
    {
        if (_lastWriteFailed || writes.Any(w => w != _inFlight))
        {
            ScheduleQueued();
        }
        return writes.Count switch
        {
            0 => Task.CompletedTask,
            1 => writes.First().Done.Task,
            _ => Task.WhenAll(writes.Select(w => w.Done.Task)),
        };
    }

    /// <summary>The write that will carry, or now carries, the latest change of <paramref name="id"/>; null when it is acknowledged.</summary>
    private PartitionWrite? Carrying(string id) =>
        _unwritten.TryGetValue(id, out var unwritten) ? unwritten.Write
        : _inFlight is { } inFlight && inFlight.Changes.ContainsKey(id) ? inFlight
        : null;

    /// <summary>Every write queued now is to be written, one at a time and in order, from now or after the one in flight.</summary>
    private void ScheduleQueued()
    {
        if (_tail is null)
        {
            return;
        }
        _scheduledThrough = _tail.Sequence;
        if (!_writing)
        {
            _writing = true;
            _ = WriteQueued();
        }
    }

    private async Task WriteQueued()
    {
        try
        {
            // Yield first, so the changes of calls that arrive meanwhile join the first write (group commit).
            await Task.Yield();
            while (_queued.TryPeek(out var write) && write.Sequence <= _scheduledThrough)
            {
                _queued.Dequeue();
                if (_tail == write)
                {
                    _tail = null;
                }
                await Write(write);
            }
        }
        finally
        {
            _writing = false;
        }
    }

    /// <summary>
    /// One write: the latest changes of its ids, at most a storage transaction's worth, so the store's time bound is the
    /// bound of one request and a failure fails only the callers of these ids (docs/storage.md §6).
    /// </summary>
    private async Task Write(PartitionWrite write)
    {
        foreach (var id in write.Ids)
        {
            if (_unwritten.Remove(id, out var unwritten))
            {
                write.Changes[id] = unwritten.Change;
            }
        }
        _inFlight = write;
        try
        {
            if (_superseded)
            {
                throw Superseded();
            }
            // An id whose write may still land keeps its mark in its entry's place (SettleLater).
            await store.Apply(Partition, write.Changes.Select(c => new IndexChange(c.Key, c.Value.Wanted,
                c.Value.Wanted is null && _unsettled.TryGetValue(c.Key, out var settleBy) ? settleBy : null)).ToArray(), _lease);
            _inFlight = null;
            _lastWriteFailed = false;
            write.Done.SetResult();
        }
        catch (Exception ex)
        {
            _inFlight = null;
            // When refused because another activation loaded the partition, nothing of it landed and nothing more is written
            // from here. The activation goes; its callers get 503, and their retry reaches the activation that holds the
            // partition now, whose load has every write acknowledged before.
            var superseded = ex is IndexLeaseLostException || _superseded;
            if (superseded && !_superseded)
            {
                _superseded = true;
                LogSuperseded(logger, Partition);
                DeactivateOnIdle();
            }
            // No caller of this write learns of success, so none of its changes happened: each entry goes back to what
            // was last acknowledged (a create that failed here leaves no phantom in the counts), unless a later change
            // replaced it meanwhile. Part of a failed write may have landed, so the entry goes again with the next write,
            // once: a removal that was itself such a restore is not queued again when it fails. What it would have cleared
            // is an entry of a device that does not exist, which the partition's next activation verifies away. Queued
            // again, removals piled up in every partition whose writes failed, each write carried them all, took longer
            // than the storage timeout and failed, and no partition wrote again (a 100k import on a slow Azurite).
            // A restoring change is queued, not scheduled: it goes with the next write a caller asks for.
            foreach (var (id, failed) in write.Changes)
            {
                if (_unwritten.TryGetValue(id, out var later))
                {
                    _unwritten[id] = later with { Change = later.Change with { Acknowledged = failed.Acknowledged } };
                }
                else
                {
                    Restore(id, failed.Acknowledged);
                    if (!superseded && failed is not { Acknowledged: null, Wanted: null })
                    {
                        _unwritten[id] = new Unwritten(new Change(failed.Acknowledged, failed.Acknowledged), Enqueue(id));
                    }
                }
            }
            CountDevices();
            _lastWriteFailed = true;
            write.Done.SetException(superseded ? Superseded() : ex);
            // Observed here: a write of restoring changes alone has no caller to observe its failure.
            _ = write.Done.Task.Exception;
        }
    }

    /// <summary>Adds <paramref name="id"/> to the newest queued write, or to a new one when that is full.</summary>
    private PartitionWrite Enqueue(string id)
    {
        if (_tail is null || _tail.Ids.Count >= Math.Max(1, store.MaxChangesPerWrite))
        {
            _tail = new PartitionWrite(++_sequence);
            _queued.Enqueue(_tail);
        }
        _tail.Ids.Add(id);
        return _tail;
    }

    private bool? Current(string id) => _entries.TryGet(id, out var enabled) ? enabled : null;

    /// <summary>Records a change of <paramref name="id"/>, and returns the queued write that will carry it.</summary>
    private PartitionWrite Track(string id, bool? before, bool? wanted)
    {
        if (_unwritten.TryGetValue(id, out var pending))
        {
            // Superseded before it was written: its caller completes with the write that carries the later change.
            _unwritten[id] = pending with { Change = pending.Change with { Wanted = wanted } };
            return pending.Write;
        }
        var write = Enqueue(id);
        _unwritten[id] = new Unwritten(new Change(before, wanted), write);
        return write;
    }

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

    /// <summary>An unwritten change and the queued write that will carry it.</summary>
    private readonly record struct Unwritten(Change Change, PartitionWrite Write);

    /// <summary>
    /// One write of the partition: the ids it will carry (fixed when they join, their latest changes taken when it
    /// starts), and its outcome, which is the outcome of the change calls waiting for it.
    /// </summary>
    private sealed class PartitionWrite(long sequence)
    {
        public long Sequence => sequence;

        public List<string> Ids { get; } = [];

        /// <summary>What it carries, taken when it starts.</summary>
        public Dictionary<string, Change> Changes { get; } = new(StringComparer.Ordinal);

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// Asks each device to confirm its entry; a device without state removes its entry, a stale flag is corrected, each
    /// inside the device's own turn. An entry that cannot be checked now stays (the index may over-count, never miss) and
    /// is checked again on the partition's timer (<see cref="CheckLater"/>) until it can be.
    /// Where device storage can be scanned by partition (<paramref name="stored"/>), an entry its row confirms (the
    /// device stored, with the status the entry flags) needs no device: only the others are asked. A scan that fails
    /// leaves every entry to its device, as without one. A stored row with no entry at all (a write that landed after its
    /// device had given up on it and taken the entry out, and the partition restarted before it settled:
    /// <see cref="SettleLater"/>) has its device reconcile, which puts the entry back; one that cannot reconcile now is
    /// held as unsettled and reconciled again each tick.
    /// </summary>
    private async Task Verify(IndexEntry[] loaded, StoredPartitionRows? stored, long loadStarted)
    {
        // Let the activation finish first: the devices' repairs call back into this partition.
        await Task.Yield();
        var asked = loaded;
        var failures = new CheckFailures();
        if (stored is not null)
        {
            try
            {
                var rows = await stored.Of(Partition, loadStarted);
                asked = [.. loaded.Where(e => !(rows.TryGetValue(e.DeviceId, out var enabled) && enabled == e.Enabled))];
                var unindexed = rows.Keys.Where(id => !_entries.TryGet(id, out _)).ToArray();
                if (unindexed.Length > 0)
                {
                    // Not the pass's entries: their failures are counted in the line below, not in 2101's.
                    var rowFailures = new CheckFailures();
                    var reconciled = await Task.WhenAll(unindexed.Select(id => TryCheck(id, device => device.Reconcile(), rowFailures)));
                    LogUnindexedRows(logger, Partition, unindexed.Length, reconciled.Count(ok => ok));
                    // One that could not reconcile now is a stored device no listing, count or read sees: reconciled again each
                    // tick until it is, and meanwhile its reads go to storage (Contains holds it).
                    for (var i = 0; i < unindexed.Length; i++)
                    {
                        if (!reconciled[i] && !SiloStopping)
                        {
                            _unsettled[unindexed[i]] = clock.GetUtcNow();
                            StartChecks();
                        }
                    }
                }
            }
            catch (Exception ex)
            {
                LogScanFailed(logger, ex, Partition);
            }
        }
        for (var start = 0; start < asked.Length && !SiloStopping; start += VerifyConcurrency)
        {
            var batch = new ArraySegment<IndexEntry>(asked, start, Math.Min(VerifyConcurrency, asked.Length - start));
            var checkedNow = await Task.WhenAll(batch.Select(entry => TryCheck(entry.DeviceId, device => device.Verify(entry.Enabled), failures)));
            for (var i = 0; i < checkedNow.Length; i++)
            {
                if (!checkedNow[i] && !SiloStopping)
                {
                    // Checked again each tick until storage answers: left to a listing or the next activation, a phantom met by
                    // slow storage after a restart stayed in the statistics for good (a review, 2026-12-07).
                    _suspects.Add(batch[i].DeviceId);
                    StartChecks();
                }
            }
        }
        // One line for the pass, with the first failure's stack: a silo's partitions verifying while another silo stopped
        // under load logged a warning with a stack for each of 3,323 devices (a review, 2026-12-07).
        if (failures.First is { } first && !SiloStopping)
        {
            LogVerifyFailed(logger, first.Error, Partition, failures.Count, asked.Length, first.DeviceId);
        }
        LogVerified(logger, this.GetPrimaryKeyLong(), loaded.Length, asked.Length, failures.Count);
    }

    /// <summary>
    /// One device's check (<paramref name="check"/>, inside the device's turn), once the silo has a verification slot for
    /// it; false, with the failure added to <paramref name="failures"/>, when it cannot be made now.
    /// <para>
    /// Once the silo stops, no check is started and none that fails is counted: the devices can no longer be placed here,
    /// and the partition's next activation checks its entries again. A review (2026-12-06) counted up to 12,907 warnings
    /// with stacks, and Orleans' own errors, in a stop during a pass.
    /// </para>
    /// </summary>
    private Task<bool> TryCheck(string deviceId, Func<IIndexedDevice, Task> check, CheckFailures failures) => slots.Run(async () =>
    {
        if (SiloStopping)
        {
            return false;
        }
        try
        {
            await check(GrainFactory.GetGrain<IIndexedDevice>(deviceId));
            return true;
        }
        catch (Exception ex) when (!SiloStopping)
        {
            failures.Add(deviceId, ex);
            return false;
        }
        catch (Exception)
        {
            return false;
        }
    });

    /// <summary>The checks of one pass or round that failed: how many, and the first, which its one log line names.</summary>
    private sealed class CheckFailures
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public (string DeviceId, Exception Error)? First { get; private set; }

        public void Add(string deviceId, Exception error)
        {
            if (Interlocked.Increment(ref _count) == 1)
            {
                First = (deviceId, error);
            }
        }
    }

    private bool SiloStopping => lifetime.ApplicationStopping.IsCancellationRequested;

    private StorageUnavailableException Superseded() =>
        new($"Index partition {Partition} moved to another activation (a silo of the cluster changed) while this change was written; nothing of it was stored. Retry.");

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "Index partition {Partition} was loaded by another activation (the grain directory lost this one's registration with a silo); this activation stops writing and deactivates")]
    private static partial void LogSuperseded(ILogger logger, int partition);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Index partition {Partition} could not check {Failed} of the {Asked} entries its verification asked their devices about (the first, device {DeviceId}, failed as below); they are checked again every repair interval until they can be")]
    private static partial void LogVerifyFailed(ILogger logger, Exception ex, int partition, int failed, int asked, string deviceId);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Warning, Message = "Index partition {Partition} could not check {Failed} entries of devices whose writes failed (the first, device {DeviceId}: {Reason}); tried again next tick")]
    private static partial void LogSuspectsFailed(ILogger logger, int partition, int failed, string deviceId, string reason);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Debug, Message = "Index partition {Partition} verified {Count} entries loaded from storage, {Asked} of them through their devices ({Failed} could not be checked)")]
    private static partial void LogVerified(ILogger logger, long partition, int count, int asked, int failed);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "Index partition {Partition}: {Failed} devices whose failed writes may have landed late could not bring their entries in line yet (the first, device {DeviceId}: {Reason}); tried again next tick")]
    private static partial void LogSettleFailed(ILogger logger, int partition, int failed, string deviceId, string reason);

    [LoggerMessage(EventId = 2108, Level = LogLevel.Warning, Message = "Index partition {Partition} could not take out the stored marks of {Count} settled ids ({Reason}); its next activation settles them again")]
    private static partial void LogMarksNotCleared(ILogger logger, int partition, int count, string reason);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Warning, Message = "Index partition {Partition} found {Count} stored devices without an entry (a write that landed after its device had given up on it); {Reconciled} of them brought their entries back")]
    private static partial void LogUnindexedRows(ILogger logger, int partition, int count, int reconciled);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "Index partition {Partition} could not scan its devices' rows; its verification asks every device instead")]
    private static partial void LogScanFailed(ILogger logger, Exception ex, int partition);
}
