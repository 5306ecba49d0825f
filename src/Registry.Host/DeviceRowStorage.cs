using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Azure;
using Azure.Data.Tables;
using Orleans.Storage;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;
using Registry.Grains.Devices;
using Registry.Grains.Storage;

namespace Registry.Host;

/// <summary>
/// The device rows of <c>Registry:DeviceStorage=Batched</c>: an <see cref="IGrainStorage"/> that group-commits the
/// writes of concurrent device grains of this silo into Azure Table entity-group transactions, so a bulk of 100
/// creates costs a few requests instead of 100. Orleans' Azure Table provider gives every grain a PartitionKey of its
/// own, so no two of its rows can share a transaction; here a row's PartitionKey is the storage group of the device's
/// index partition (<see cref="StorageGroups"/>, 32 by default, so a bulk's 100 rows meet in at most 32 keys)
/// and its RowKey the escaped id. Batching is natural: while a transaction of a group is in flight, the next writes to
/// it queue and go together as the next one, with no timer (a lone write goes at once).
/// Each writer keeps the semantics of one row of its own (insert-if-absent without a storage ETag, replace with it,
/// delete) and gets its own outcome and ETag: one refused operation fails only its writer, the rest are retried
/// without it. A write still queued <paramref name="queueTimeout"/> after it was asked (its caller has been answered 503
/// by then, <see cref="BoundedGrainStorage"/>) is dropped unsent: sent late, it would only spend storage on an answer
/// nobody waits for, and land behind the caller's back. docs/storage.md §3.
/// </summary>
public sealed partial class DeviceRowStorage(StorageTables tables, int partitions, IGrainStorageSerializer serializer, ILogger<DeviceRowStorage> logger,
    int requestsInFlight = TableIndexStore.DefaultRequestsInFlight, TimeSpan? slowRequest = null, TimeProvider? time = null, TimeSpan? queueTimeout = null,
    StorageGroups? groups = null)
    : IGroupCommittingStorage, IDevicePartitionScan
{
    /// <summary>Azure's limit on the operations of one entity-group transaction.</summary>
    public const int MaxTransaction = 100;

    private const string DataColumn = "Data";
    private static readonly string[] Columns = [DataColumn];
    private static readonly string[] KeyedColumns = ["RowKey", DataColumn];

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly AdaptiveSlots _slots = new(requestsInFlight, slowRequest ?? AdaptiveSlots.DefaultSlowRequest, RegistryMetrics.Stores.DeviceRows, logger, time);
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly StorageGroups _groups = groups ?? StorageGroups.Default;
    private long _dropped;

    /// <summary>Storage requests this store has in flight at most, over all its groups (the configured number).</summary>
    public int RequestsInFlight => requestsInFlight;

    /// <summary>Requests it keeps in flight now: fewer than <see cref="RequestsInFlight"/> after slow answers (<see cref="AdaptiveSlots"/>).</summary>
    public int RequestsInFlightNow => _slots.Limit;
    private static readonly KeyValuePair<string, object?> StoreTag = new(RegistryMetrics.Tags.Store, RegistryMetrics.Stores.DeviceRows);
    private long _writes;
    private long _requests;
    private long _operationsSent;
    private long _reads;
    private long _scans;

    /// <summary>Writes asked of this store (inserts, replaces, deletes).</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Storage requests those writes took: transactions plus single requests. Below <see cref="Writes"/> when writes shared transactions.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>
    /// Operations the requests carried, a row counted again each time a refused transaction went again without one of its
    /// neighbours: the work storage was asked to do, at least <see cref="Writes"/> less <see cref="Dropped"/>.
    /// </summary>
    public long OperationsSent => Interlocked.Read(ref _operationsSent);

    /// <summary>Writes dropped unsent: still queued past the queue timeout, their callers already answered 503.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Rows read one at a time (a device grain loading its state); the rows of a <see cref="Scan"/> are not counted.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>Range queries over a storage group's rows (each a scan of pages), whichever partitions they were for.</summary>
    public long Scans => Interlocked.Read(ref _scans);

    /// <summary>
    /// The bucket of a device id (not escaped): the storage group of its index partition, as in the index table, so the
    /// rows of a bulk's devices share few PartitionKeys (their writes share transactions) while the groups' transactions
    /// run side by side.
    /// </summary>
    public string PartitionKey(string deviceId) => _groups.Key(DevicePartitioner.PartitionOf(deviceId, partitions));

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var (partitionKey, rowKey) = Keys(grainId);
        Interlocked.Increment(ref _reads);
        var row = await tables.For(partitionKey).GetEntityIfExistsAsync<TableEntity>(partitionKey, rowKey, Columns);
        if (row.HasValue && row.Value is { } entity && entity.GetBinary(DataColumn) is { } data)
        {
            grainState.State = serializer.Deserialize<T>(new BinaryData(data));
            grainState.ETag = entity.ETag.ToString();
            grainState.RecordExists = true;
        }
        else
        {
            // As after a clear: no state (the device grain starts empty on null).
            grainState.State = default!;
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
    }

    /// <summary>
    /// Every row of one index partition by a range query over its storage group's PartitionKey (<see cref="ScanGroup"/>);
    /// the rows of the group's other partitions are read and skipped.
    /// </summary>
    public async IAsyncEnumerable<DeviceIdentity> Scan(int partition, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        await foreach (var (_, device) in ScanGroup([partition], cancellation))
        {
            yield return device;
        }
    }

    /// <summary>The partitions sharing a PartitionKey (<see cref="StorageGroups"/>): one range query reads them all.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Groups(int partitions) => _groups.Of(partitions);

    /// <summary>
    /// Every row of the partitions of <paramref name="group"/> (of one storage group) by one range query over the
    /// group's PartitionKey, page by page (the SDK's pages of up to 1,000 rows), so an export holds one page at a time
    /// and makes one request per page instead of one per device, and reads the group once for all its partitions. A
    /// row's partition follows from its id (RowKeys are the ids alone); rows of partitions not asked for are skipped.
    /// </summary>
    public async IAsyncEnumerable<(int Partition, DeviceIdentity Device)> ScanGroup(IReadOnlyList<int> group, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        if (group.Count == 0)
        {
            yield break;
        }
        var key = _groups.Key(group[0]);
        if (group.Any(p => _groups.Key(p) != key))
        {
            throw new ArgumentException($"Partitions {string.Join(", ", group)} are not of one storage group.", nameof(group));
        }
        var wanted = group.ToHashSet();
        Interlocked.Increment(ref _scans);
        await foreach (var row in tables.For(key).QueryAsync<TableEntity>(e => e.PartitionKey == key, select: Columns, cancellationToken: cancellation))
        {
            if (row.GetBinary(DataColumn) is { } data && serializer.Deserialize<DeviceState>(new BinaryData(data))?.Identity is { } identity
                && DevicePartitioner.PartitionOf(identity.DeviceId, partitions) is var partition && wanted.Contains(partition))
            {
                yield return (partition, identity);
            }
        }
    }

    /// <summary>
    /// The rows of <paramref name="deviceIds"/> by one range query over their group's PartitionKey, from the least of their
    /// RowKeys to the greatest: the group's other partitions' rows in the range are read and skipped (about
    /// <see cref="StorageGroups.Count"/> ÷ partitions of them per id asked). Counted in <see cref="Scans"/>.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, DeviceIdentity>> ReadMany(int partition, IReadOnlyCollection<string> deviceIds, CancellationToken cancellation = default)
    {
        var found = new Dictionary<string, DeviceIdentity>(deviceIds.Count, StringComparer.Ordinal);
        if (deviceIds.Count == 0)
        {
            return found;
        }
        var wanted = deviceIds.ToHashSet(StringComparer.Ordinal);
        var (first, last) = KeyEscapingGrainStorage.EscapedRange(wanted);
        var key = _groups.Key(partition);
        Interlocked.Increment(ref _scans);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {key} and RowKey ge {first} and RowKey le {last}");
        await foreach (var row in tables.For(key).QueryAsync<TableEntity>(filter, select: KeyedColumns, cancellationToken: cancellation))
        {
            if (wanted.Contains(KeyEscapingGrainStorage.UnescapeKey(row.RowKey))
                && row.GetBinary(DataColumn) is { } data && serializer.Deserialize<DeviceState>(new BinaryData(data))?.Identity is { } identity)
            {
                found[identity.DeviceId] = identity;
            }
        }
        return found;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var (partitionKey, rowKey) = Keys(grainId);
        var data = serializer.Serialize(grainState.State).ToArray();
        // No storage ETag: the writer believes no row exists (a create), so the write is an insert that refuses one.
        var write = grainState.ETag is { } etag
            ? new PendingWrite(WriteKind.Replace, rowKey, data, new ETag(etag), _time.GetTimestamp())
            : new PendingWrite(WriteKind.Insert, rowKey, data, default, _time.GetTimestamp());
        grainState.ETag = (await Enqueue(partitionKey, write)).ToString();
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var (partitionKey, rowKey) = Keys(grainId);
        await Enqueue(partitionKey, new PendingWrite(WriteKind.Delete, rowKey, null, grainState.ETag is { } etag ? new ETag(etag) : ETag.All, _time.GetTimestamp()));
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    /// <summary>The grain key arrives escaped (<see cref="KeyEscapingGrainStorage"/>): it is the RowKey; the bucket is of the id itself.</summary>
    private (string PartitionKey, string RowKey) Keys(GrainId grainId)
    {
        var rowKey = grainId.Key.ToString()!;
        return (PartitionKey(KeyEscapingGrainStorage.UnescapeKey(rowKey)), rowKey);
    }

    private Task<ETag> Enqueue(string partitionKey, PendingWrite write)
    {
        Interlocked.Increment(ref _writes);
        RegistryMetrics.StorageWrites.Add(1, StoreTag);
        var bucket = _buckets.GetOrAdd(partitionKey, key => new Bucket(key));
        bool start;
        lock (bucket.Queue)
        {
            bucket.Queue.Add(write);
            start = !bucket.Draining;
            bucket.Draining = true;
        }
        if (start)
        {
            // Off the calling grain's scheduler: the drain serves every grain whose rows share the bucket.
            _ = Task.Run(() => Drain(bucket));
        }
        return write.Done.Task;
    }

    /// <summary>
    /// One drain per bucket at a time: it takes what queued while the previous transaction was in flight. It takes a
    /// request slot before its batch, so while every slot is busy (storage is the bottleneck) the bucket's writes keep
    /// queueing and go as one fuller transaction instead of many small ones.
    /// </summary>
    private async Task Drain(Bucket bucket)
    {
        while (true)
        {
            lock (bucket.Queue)
            {
                if (bucket.Queue.Count == 0)
                {
                    bucket.Draining = false;
                    return;
                }
            }
            var started = await _slots.WaitAsync();
            List<PendingWrite> batch;
            List<PendingWrite> expired;
            lock (bucket.Queue)
            {
                expired = queueTimeout is { } limit ? bucket.TakeExpired(_time, limit) : [];
                batch = bucket.TakeBatch();
            }
            Expire(expired);
            if (batch.Count == 0)
            {
                _slots.Return(); // every write had expired: nothing was sent
                continue;
            }
            try
            {
                await Commit(bucket.PartitionKey, batch);
            }
            catch (Exception e)
            {
                // Commit settles every write itself; this only keeps a bug from leaving writers waiting forever.
                LogDrainFailed(logger, e, bucket.PartitionKey);
                foreach (var write in batch)
                {
                    write.Done.TrySetException(e);
                }
            }
            finally
            {
                _slots.Release(started);
            }
        }
    }

    private void Expire(List<PendingWrite> expired)
    {
        if (expired.Count == 0)
        {
            return;
        }
        Interlocked.Add(ref _dropped, expired.Count);
        var error = new TimeoutException($"Not sent: queued past the storage timeout ({queueTimeout!.Value.TotalSeconds:0.#} s) behind other writes.");
        foreach (var write in expired)
        {
            write.Done.TrySetException(error);
        }
    }

    /// <summary>
    /// Commits <paramref name="batch"/> (distinct rows of one PartitionKey). A transaction fails whole when one of its
    /// operations is refused: that one gets its own outcome and the others go again without it, so a conflict never
    /// fails its neighbours. Storage that does not answer fails every write of the batch, and acknowledges none.
    /// </summary>
    private async Task Commit(string partitionKey, List<PendingWrite> batch)
    {
        var open = batch;
        while (open.Count > 1)
        {
            CountRequest(open.Count);
            try
            {
                var response = await tables.For(partitionKey).SubmitTransactionAsync(open.Select(write => write.Action(partitionKey)));
                for (var i = 0; i < open.Count; i++)
                {
                    open[i].Done.TrySetResult(response.Value[i].Headers.ETag ?? default);
                }
                return;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex is int failed && failed < open.Count && IsRefusal(e.Status))
            {
                var refused = open[failed];
                Settle(refused, e);
                open = open.Where((_, i) => i != failed).ToList();
                if (refused.Kind == WriteKind.Delete && e.Status == 404)
                {
                    // A row already gone: its fellow deletes most likely undo creates that never landed too. Left in, each
                    // refused the whole transaction in turn and storage did the batch's work once per refusal; alone, a
                    // delete of a row already gone is done at the cost of one operation.
                    var deletes = open.Where(write => write.Kind == WriteKind.Delete).ToList();
                    await Task.WhenAll(deletes.Select(write => One(partitionKey, write)));
                    open = open.Where(write => write.Kind != WriteKind.Delete).ToList();
                }
            }
            catch (RequestFailedException e) when (IsRefusal(e.Status))
            {
                // Refused without saying which operation: each one alone then gets its own answer.
                LogTransactionRefused(logger, e, partitionKey, open.Count);
                await Task.WhenAll(open.Select(write => One(partitionKey, write)));
                return;
            }
            catch (Exception e)
            {
                foreach (var write in open)
                {
                    write.Done.TrySetException(e);
                }
                return;
            }
        }
        if (open.Count == 1)
        {
            // A lone write (a quiet bucket) is a plain request, cheaper than a transaction of one.
            await One(partitionKey, open[0]);
        }
    }

    private async Task One(string partitionKey, PendingWrite write)
    {
        CountRequest(1);
        try
        {
            var response = write.Kind switch
            {
                WriteKind.Insert => await tables.For(partitionKey).AddEntityAsync(write.Entity(partitionKey)),
                WriteKind.Replace => await tables.For(partitionKey).UpdateEntityAsync(write.Entity(partitionKey), write.ETag, TableUpdateMode.Replace),
                // A single delete of a row that is not there succeeds (the SDK answers 404 as done).
                _ => await tables.For(partitionKey).DeleteEntityAsync(partitionKey, write.RowKey, write.ETag),
            };
            write.Done.TrySetResult(response.Headers.ETag ?? default);
        }
        catch (RequestFailedException e) when (IsRefusal(e.Status))
        {
            Settle(write, e);
        }
        catch (Exception e)
        {
            write.Done.TrySetException(e);
        }
    }

    private void CountRequest(int operations)
    {
        Interlocked.Add(ref _operationsSent, operations);
        Interlocked.Increment(ref _requests);
        RegistryMetrics.StorageRequests.Add(1, StoreTag);
    }

    /// <summary>What a refusal of one operation means to its writer, as Orleans' own providers report it.</summary>
    private static void Settle(PendingWrite write, RequestFailedException e)
    {
        switch (write.Kind, e.Status)
        {
            case (WriteKind.Delete, 404):
                // Already gone: the delete's end state holds, as for a single request.
                write.Done.TrySetResult(default);
                break;
            case (WriteKind.Insert, 409):
            case (WriteKind.Replace, 404 or 412):
            case (WriteKind.Delete, 412):
                write.Done.TrySetException(new InconsistentStateException(
                    $"Device row {write.RowKey}: storage refused the {write.Kind} ({e.Status} {e.ErrorCode}); another writer changed it.",
                    e.Status == 409 ? "(a row exists)" : "(another)", write.ETag.ToString()));
                break;
            default:
                write.Done.TrySetException(e);
                break;
        }
    }

    /// <summary>Storage answered and refused an operation (a conflict, a missing row, a bad entity): not an outage.</summary>
    private static bool IsRefusal(int status) => status is >= 400 and < 500 and not 408 and not 429;

    private enum WriteKind
    {
        Insert,
        Replace,
        Delete,
    }

    private sealed record PendingWrite(WriteKind Kind, string RowKey, byte[]? Data, ETag ETag, long Queued)
    {
        /// <summary>Continuations run off the drain, so one slow writer never holds the next transaction.</summary>
        public TaskCompletionSource<ETag> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TableEntity Entity(string partitionKey) => new(partitionKey, RowKey) { [DataColumn] = Data };

        public TableTransactionAction Action(string partitionKey) => Kind switch
        {
            WriteKind.Insert => new TableTransactionAction(TableTransactionActionType.Add, Entity(partitionKey)),
            WriteKind.Replace => new TableTransactionAction(TableTransactionActionType.UpdateReplace, Entity(partitionKey), ETag),
            _ => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partitionKey, RowKey), ETag),
        };
    }

    private sealed class Bucket(string partitionKey)
    {
        public string PartitionKey => partitionKey;

        /// <summary>Writes waiting, oldest first; also the lock of this bucket.</summary>
        public List<PendingWrite> Queue { get; } = [];

        public bool Draining { get; set; }

        /// <summary>The writes queued longer than <paramref name="limit"/>, taken out of the queue.</summary>
        public List<PendingWrite> TakeExpired(TimeProvider time, TimeSpan limit)
        {
            var expired = new List<PendingWrite>();
            var kept = new List<PendingWrite>(Queue.Count);
            foreach (var write in Queue)
            {
                (time.GetElapsedTime(write.Queued) >= limit ? expired : kept).Add(write);
            }
            if (expired.Count > 0)
            {
                Queue.Clear();
                Queue.AddRange(kept);
            }
            return expired;
        }

        /// <summary>
        /// Up to <see cref="MaxTransaction"/> of the oldest writes, one per row (a transaction may not touch a row twice:
        /// a second write of a row, e.g. after its first was abandoned at the timeout, waits for the next one).
        /// </summary>
        public List<PendingWrite> TakeBatch()
        {
            var batch = new List<PendingWrite>(Math.Min(Queue.Count, MaxTransaction));
            var rows = new HashSet<string>(StringComparer.Ordinal);
            var kept = new List<PendingWrite>();
            foreach (var write in Queue)
            {
                if (batch.Count < MaxTransaction && rows.Add(write.RowKey))
                {
                    batch.Add(write);
                }
                else
                {
                    kept.Add(write);
                }
            }
            Queue.Clear();
            Queue.AddRange(kept);
            return batch;
        }
    }

    [LoggerMessage(EventId = 2250, Level = LogLevel.Error, Message = "A device-row commit of bucket {PartitionKey} failed unexpectedly")]
    private static partial void LogDrainFailed(ILogger logger, Exception exception, string partitionKey);

    [LoggerMessage(EventId = 2251, Level = LogLevel.Warning, Message = "A device-row transaction of bucket {PartitionKey} ({Count} writes) was refused without naming an operation; writing them one by one")]
    private static partial void LogTransactionRefused(ILogger logger, Exception exception, string partitionKey, int count);
}
