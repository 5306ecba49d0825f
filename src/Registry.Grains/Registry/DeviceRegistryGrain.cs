using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Registry.Abstractions;
using Registry.Grains.Devices;
using Registry.Grains.Index;
using Registry.Grains.Storage;

namespace Registry.Grains.Registry;

/// <summary>
/// Registry-wide reads and bulk writes. A stateless worker: each silo runs local copies, so fan-out work
/// lands wherever the caller is and no single activation becomes a bottleneck.
/// </summary>
[StatelessWorker]
[Reentrant] // no state of its own: a call waiting for a device must not hold the silo's other calls (HeartbeatBatchGrain)
public sealed partial class DeviceRegistryGrain(
    IOptions<RegistryIndexOptions> indexOptions, IGrainFactory grains, ILogger<DeviceRegistryGrain> logger, IServiceProvider services,
    IPresenceStore presence, ActiveDevices active, IClusterMembershipService membership, ILocalSiloDetails silo) : Grain, IDeviceRegistryGrain
{
    private const int MaxPartitionWindow = 32;

    /// <summary>
    /// How long a listing waits for a page's stored rows, or for the silos to say which of its devices are active, before
    /// it reads the page through the device grains instead.
    /// </summary>
    private static readonly TimeSpan StoredReadTimeout = TimeSpan.FromSeconds(5);

    private readonly IDevicePartitionScan? _rows = active.Kept ? services.GetService<IDevicePartitionScan>() : null;

    /// <summary>Index partitions a statistics call asks at once.</summary>
    public const int StatisticsWindow = PartitionLookAhead.Window;

    private readonly BulkOperationApplier _applier = new(id => grains.GetGrain<IDeviceGrain>(id), logger);

    private int Partitions => indexOptions.Value.Partitions;

    /// <summary>
    /// Every partition's counts, a window of partitions at a time (<see cref="StatisticsWindow"/>), and none asked after one
    /// failed. All at once, the first call after a restart put every partition's load in the silo's load queue together
    /// (1,024 at <c>IndexPartitions=1024</c>), and a device request whose own partition was not loaded yet waited behind all
    /// of them (GETs of up to 8 s beside an 8.6 s statistics call; with a 1 s response timeout, 503); when the loads
    /// failed, each of the 1,024 activations logged its failure (hostile review, 2026-12-04). Loaded partitions answer
    /// from memory, so the window costs a call of a warm registry little (1,024 partitions: 32 rounds of local calls).
    /// </summary>
    public async Task<RegistryStatistics> GetStatistics()
    {
        // A partition this call activates loads behind any device request's own partition load (BackgroundLoads).
        BackgroundLoads.Mark();
        long enabled = 0, disabled = 0;
        var next = 0;
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The workers run in this activation's turns, one at a time: the shared counters need no lock.
        async Task Sweep()
        {
            while (!failed.Task.IsCompleted && next < Partitions)
            {
                var partition = next++;
                try
                {
                    var counts = await GrainFactory.GetGrain<IDeviceIndexGrain>(partition).Counts();
                    enabled += counts.Enabled;
                    disabled += counts.Disabled;
                }
                catch (Exception e)
                {
                    failed.TrySetException(e);
                    return;
                }
            }
        }
        var swept = Task.WhenAll(Enumerable.Range(0, Math.Min(StatisticsWindow, Partitions)).Select(_ => Sweep()));
        // The first failure answers at once: the window's other partitions may be waiting for loads that fail in turn
        // (storage hung after a restart: a load slot, then the storage timeout, each), and the caller waited for them all,
        // the whole 30 s response timeout (hostile review, 2026-12-04). They end in the background and ask nothing more.
        await Task.WhenAny(swept, failed.Task);
        if (failed.Task.IsFaulted)
        {
            await failed.Task;
        }
        return new RegistryStatistics(enabled + disabled, enabled, disabled);
    }

    public async Task<DevicePage> List(int maxCount, string? continuation)
    {
        var max = RegistryLimits.PageSize(maxCount);
        var cursor = ContinuationToken.Decode(continuation, Partitions);
        var devices = new List<DeviceIdentity>(Math.Min(max, 64));
        var partition = cursor.Partition;
        var after = cursor.AfterDeviceId;

        // Sparse registries have many small or empty partitions: read a growing window of them at once instead
        // of one round trip each, while a dense registry is still served by a single partition read.
        var window = 1;
        while (partition < Partitions && devices.Count < max)
        {
            // The entries of the page are chosen first and their devices read together: a page of 1,000 spanning two
            // partitions waits for one round of reads, not one per partition. Phantoms, dropped by the reads, leave the
            // page short: the next round takes their places from where the cursor stopped.
            var reads = new List<Task<IEnumerable<DeviceIdentity>>>();
            var taking = devices.Count;
            while (partition < Partitions && taking < max)
            {
                var wanted = max - taking;
                var first = partition;
                var pages = await Task.WhenAll(Enumerable.Range(first, Math.Min(window, Partitions - first)).Select(p =>
                    GrainFactory.GetGrain<IDeviceIndexGrain>(p).Page(p == first ? after : null, wanted)));
                window = Math.Min(window * 2, MaxPartitionWindow);

                foreach (var page in pages)
                {
                    var budget = max - taking;
                    var taken = page.Entries.Count <= budget ? page.Entries : page.Entries.Take(budget).ToArray();
                    reads.Add(Read(partition, taken));
                    taking += taken.Count;

                    if (taken.Count < page.Entries.Count || page.HasMore)
                    {
                        // This partition goes on: the cursor stays in it, and later pages of the window are not ours yet.
                        after = taken.Count > 0 ? taken[^1].DeviceId : after;
                        break;
                    }
                    partition++;
                    after = null;
                    if (taking >= max)
                    {
                        break;
                    }
                }
            }
            foreach (var read in reads)
            {
                devices.AddRange(await read);
            }
        }

        if (after is null && partition < Partitions)
        {
            // The page ended with a partition: a cursor only if a later partition holds an entry, so the page that takes
            // the last devices is the last page instead of one before an empty one.
            partition = await PartitionLookAhead.FirstHolding(partition, Partitions, async p =>
                (await GrainFactory.GetGrain<IDeviceIndexGrain>(p).Page(null, 0)).HasMore);
        }
        var next = partition < Partitions ? new ContinuationToken(partition, after).Encode(Partitions) : null;
        return new DevicePage(devices, next);
    }

    /// <summary>
    /// The devices of <paramref name="entries"/> (of <paramref name="partition"/>), in their order. Where device rows can be
    /// read by range (<see cref="IDevicePartitionScan"/>), a device no silo has active is read from its stored row and its
    /// persisted presence, one range query each for the page, which is what an activation would load and show; only the
    /// others are read through their grains: a device active somewhere (its grain may know newer activity, or a session),
    /// and an entry without a row or whose status flag disagrees with its row (the grain drops or corrects it in its own
    /// turn). A page whose stored reads fail, or whose silos do not all answer, is read through its grains whole.
    /// </summary>
    private async Task<IEnumerable<DeviceIdentity>> Read(int partition, IReadOnlyList<IndexEntry> entries)
    {
        if (_rows is null || entries.Count == 0)
        {
            return await ThroughGrains(entries);
        }
        var ids = entries.Select(e => e.DeviceId).ToArray();
        IReadOnlyDictionary<string, DeviceIdentity> rows;
        IReadOnlyDictionary<string, PresenceRecord> records;
        HashSet<string> inUse;
        try
        {
            using var timeout = new CancellationTokenSource(StoredReadTimeout);
            var activeTask = ActiveAmong(ids);
            var rowsTask = _rows.ReadMany(partition, ids, timeout.Token);
            var recordsTask = presence.ReadMany(partition, ids);
            await Task.WhenAll(activeTask, rowsTask, recordsTask).WaitAsync(StoredReadTimeout);
            (inUse, rows, records) = (await activeTask, await rowsTask, await recordsTask);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogStoredReadFailed(logger, e, partition);
            return await ThroughGrains(entries);
        }

        var read = new DeviceIdentity?[entries.Count];
        var throughGrains = new List<Task>();
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            if (!inUse.Contains(entry.DeviceId) && rows.TryGetValue(entry.DeviceId, out var identity)
                && (identity.Status == DeviceStatus.Enabled) == entry.Enabled)
            {
                read[i] = DevicePresence.Restored(identity, records.GetValueOrDefault(entry.DeviceId));
            }
            else
            {
                throughGrains.Add(ReadAt(i, entry));
            }
        }
        await Task.WhenAll(throughGrains);
        return read.OfType<DeviceIdentity>();

        // In this activation's turns, one at a time: the array needs no lock.
        async Task ReadAt(int at, IndexEntry entry) => read[at] = await ReadThroughGrain(entry);
    }

    // Phantoms (ids whose device is gone) come back null and are dropped from the index as they are met.
    private async Task<IEnumerable<DeviceIdentity>> ThroughGrains(IReadOnlyList<IndexEntry> entries) =>
        (await Task.WhenAll(entries.Select(ReadThroughGrain))).OfType<DeviceIdentity>();

    private Task<DeviceIdentity?> ReadThroughGrain(IndexEntry entry) =>
        GrainFactory.GetGrain<IIndexedDevice>(entry.DeviceId).ReadForIndex(entry.Enabled);

    /// <summary>Those of <paramref name="ids"/> with an activation on an active silo: this silo's from memory, the others' by a call each.</summary>
    private async Task<HashSet<string>> ActiveAmong(string[] ids)
    {
        var answers = await Task.WhenAll(membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress.Equals(silo.SiloAddress)
                ? Task.FromResult(active.Among(ids))
                : GrainFactory.GetGrain<IActiveDevicesGrain>(m.SiloAddress.ToParsableString()).Among(ids)));
        var inUse = new HashSet<string>(StringComparer.Ordinal);
        foreach (var answer in answers)
        {
            inUse.UnionWith(answer);
        }
        return inUse;
    }

    [LoggerMessage(EventId = 3010, Level = LogLevel.Debug, Message = "A listing page of index partition {Partition} is read through its device grains: its stored rows or its silos did not answer")]
    private static partial void LogStoredReadFailed(ILogger logger, Exception exception, int partition);

    public async Task<BulkOperationResult> ApplyBulk(IReadOnlyList<BulkOperation> operations)
    {
        RegistryLimits.EnsureBulkCount(operations.Count);
        RegistryLimits.EnsureDistinctDeviceIds(operations.Select(o => o.Device.DeviceId));

        // Items are independent; concurrent calls into one index partition share its writes (group commit).
        var outcomes = await Task.WhenAll(operations.Select(_applier.Apply));
        return new BulkOperationResult(outcomes.OfType<BulkOperationError>().ToArray());
    }
}
