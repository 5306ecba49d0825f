using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;
using Registry.Grains.Index;
using Registry.Grains.Storage;

namespace Registry.Host;

/// <summary>
/// The durable <see cref="IIndexStore"/>: one Azure Table entity per index entry, an <c>Enabled</c> column, keyed so
/// that the writes of many partitions share entity-group transactions. A bulk of 100 creates touches ~80 of the 256
/// partitions: keyed by partition, that was ~80 requests whatever the batching. Here PartitionKey = the partition's
/// storage group (<see cref="StorageGroups"/>) and RowKey = the partition in six digits, a
/// dash, and the escaped id; the concurrent writes of one group (from any of its partitions' grains) queue while a
/// request of the group is in flight and go together as the next transaction, up to <see cref="MaxTransaction"/>, with
/// no timer (a lone write goes at once). A partition still loads by one range query (its RowKey prefix). Each
/// partition's write keeps its own outcome: it succeeds only when every transaction carrying part of it committed,
/// and a write refused by storage fails alone, the others of its transaction going again without it. docs/storage.md §6.
/// </summary>
public sealed class TableIndexStore(StorageTables tables, int requestsInFlight = TableIndexStore.DefaultRequestsInFlight,
    TimeSpan? slowRequest = null, ILogger<TableIndexStore>? logger = null, TimeProvider? time = null, StorageGroups? groups = null,
    TimeSpan? roundTrip = null) : IIndexStore
{
    /// <summary>
    /// Storage requests a group-committing store has in flight at once, over all its groups (<c>Registry:StorageRequestsInFlight</c>).
    /// Measured on Azurite: unbounded, a 100k import's writes went ~6 rows a request and storage did twice the ceiling's work.
    /// </summary>
    public const int DefaultRequestsInFlight = 8;

    /// <summary>Azure's limit on the operations of one entity-group transaction.</summary>
    public const int MaxTransaction = 100;

    /// <summary>
    /// A transaction: a partition's write then needs one request (sharing it with other partitions' writes of its group),
    /// so it fits the storage time bound a request does. A larger write was several transactions bounded as one, and
    /// outlived the bound on a slow store while its transactions still landed (docs/storage.md §6).
    /// </summary>
    public int MaxChangesPerWrite => MaxLeasedChanges;

    /// <summary>The changes of a leased write that fit one transaction beside its claim check.</summary>
    public const int MaxLeasedChanges = MaxTransaction - 1;

    private readonly StorageGroups _storageGroups = groups ?? StorageGroups.Default;

    /// <summary>The PartitionKeys its entries are under (<c>Registry:StorageGroups</c>).</summary>
    public StorageGroups StorageGroups => _storageGroups;

    /// <summary>The tables its groups are spread over (<c>Registry:StorageTables</c>).</summary>
    public StorageTables Tables => tables;

    private const string EnabledColumn = "Enabled";
    private const string HolderColumn = "Holder";
    /// <summary>An entity with this column is a mark in an entry's place: the id's write may still land until then (<see cref="IndexChange.SettleBy"/>).</summary>
    private const string SettleByColumn = "SettleBy";
    private static readonly string[] Columns = ["RowKey", EnabledColumn, SettleByColumn];

    private readonly Dictionary<string, Group> _groups = new(StringComparer.Ordinal);
    private readonly AdaptiveSlots _slots = new(requestsInFlight, slowRequest ?? AdaptiveSlots.DefaultSlowRequest, RegistryMetrics.Stores.Index, logger, time);

    /// <summary>Storage requests this store has in flight at most, over all its groups (the configured number).</summary>
    public int RequestsInFlight => requestsInFlight;

    /// <summary>Requests it keeps in flight now: fewer than <see cref="RequestsInFlight"/> after slow answers (<see cref="AdaptiveSlots"/>).</summary>
    public int RequestsInFlightNow => _slots.Limit;
    private static readonly KeyValuePair<string, object?> StoreTag = new(RegistryMetrics.Tags.Store, RegistryMetrics.Stores.Index);
    private long _writes;
    private long _requests;
    private long _operationsSent;

    /// <summary>Entry changes written (upserts and removals).</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Storage requests those changes took: below <see cref="Writes"/> when changes shared transactions.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>
    /// Operations those requests carried, a change counted again each time a refused transaction went again without one
    /// of its neighbours: the work storage was asked to do, at least <see cref="Writes"/>.
    /// </summary>
    public long OperationsSent => Interlocked.Read(ref _operationsSent);

    /// <summary>A partition number in six digits: the key of the stores that keep a PartitionKey per partition (presence, heartbeats).</summary>
    public static string PartitionKey(int partition) => partition.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>The PartitionKey of <paramref name="partition"/>'s entries.</summary>
    public string GroupKey(int partition) => _storageGroups.Key(partition);

    private static string RowPrefix(int partition) => PartitionKey(partition) + "-";

    private static string RowKey(int partition, string deviceId) => RowPrefix(partition) + KeyEscapingGrainStorage.EscapeKey(deviceId);

    /// <summary>
    /// The partition's claim row: the lease of the activation that loaded it last (<see cref="IndexLease"/>). Its RowKey is
    /// the partition's number alone, which sorts before the partition's entries and outside their range.
    /// </summary>
    private static string ClaimRowKey(int partition) => PartitionKey(partition);

    /// <summary>
    /// The partition's entries, by its claim (when leased) and one range query; each of its round trips answers within
    /// <c>roundTrip</c> (<see cref="RoundTripBound"/>) or the load fails with a <see cref="TimeoutException"/>.
    /// </summary>
    public async Task<IReadOnlyList<IndexEntry>> Load(int partition, IndexLease? lease = null)
    {
        using var trips = new RoundTripBound(roundTrip, time);
        try
        {
            if (lease is not null)
            {
                // The claim first, then the read: a write of an earlier lease either landed before the claim (so the read has
                // it) or meets the claim's new ETag and is refused whole.
                var claimed = await tables.For(GroupKey(partition)).UpsertEntityAsync(new TableEntity(GroupKey(partition), ClaimRowKey(partition)) { [HolderColumn] = lease.Holder },
                    TableUpdateMode.Replace, trips.Token);
                trips.Answered();
                lease.Proof = claimed.Headers.ETag ?? throw new InvalidOperationException("Storage answered the index claim without an ETag.");
            }
            var prefix = RowPrefix(partition);
            // '.' follows '-': every RowKey of the partition is in [prefix, upper).
            var upper = PartitionKey(partition) + ".";
            var filter = TableClient.CreateQueryFilter($"PartitionKey eq {GroupKey(partition)} and RowKey ge {prefix} and RowKey lt {upper}");
            var entries = new List<IndexEntry>();
            await foreach (var page in tables.For(GroupKey(partition)).QueryAsync<TableEntity>(filter, select: Columns, cancellationToken: trips.Token).AsPages())
            {
                trips.Answered();
                foreach (var entity in page.Values)
                {
                    entries.Add(new IndexEntry(KeyEscapingGrainStorage.UnescapeKey(entity.RowKey[prefix.Length..]), entity.GetBoolean(EnabledColumn) ?? false,
                        entity.GetDateTimeOffset(SettleByColumn)));
                }
            }
            return entries;
        }
        catch (Exception e) when (trips.Ended(e))
        {
            throw trips.Expired($"index partition {partition}'s load", e);
        }
    }

    public Task Apply(int partition, IReadOnlyList<IndexChange> changes, IndexLease? lease = null)
    {
        if (changes.Count == 0)
        {
            return Task.CompletedTask;
        }
        Interlocked.Add(ref _writes, changes.Count);
        RegistryMetrics.StorageWrites.Add(changes.Count, StoreTag);
        var key = GroupKey(partition);
        Group group;
        lock (_groups)
        {
            if (!_groups.TryGetValue(key, out group!))
            {
                _groups[key] = group = new Group(key);
            }
        }
        // A write larger than a transaction is several units; it succeeds when all of them did.
        // A leased unit carries a check of its claim row in its transaction, so it holds one change fewer.
        var units = changes.Chunk(lease is null ? MaxTransaction : MaxLeasedChanges).Select(chunk => new Unit(partition, chunk, lease)).ToArray();
        bool start;
        lock (group.Queue)
        {
            group.Queue.AddRange(units);
            start = !group.Draining;
            group.Draining = true;
        }
        if (start)
        {
            // Off the calling partition's scheduler: the drain serves every partition of the group.
            _ = Task.Run(() => Drain(group));
        }
        return units.Length == 1 ? units[0].Done.Task : Task.WhenAll(units.Select(u => u.Done.Task));
    }

    /// <summary>
    /// One drain per group at a time: it takes what queued while the previous request was in flight. It takes a request
    /// slot before its batch, so while every slot is busy the group's writes keep queueing and share the next transaction.
    /// </summary>
    private async Task Drain(Group group)
    {
        while (true)
        {
            lock (group.Queue)
            {
                if (group.Queue.Count == 0)
                {
                    group.Draining = false;
                    return;
                }
            }
            var started = await _slots.WaitAsync();
            List<Unit> batch;
            lock (group.Queue)
            {
                batch = group.TakeBatch(); // not empty: only this drain takes from the queue
            }
            try
            {
                await Commit(group.Key, batch);
            }
            catch (Exception e)
            {
                // Commit settles every unit itself; this only keeps a bug from leaving a partition's write waiting forever.
                foreach (var unit in batch)
                {
                    unit.Done.TrySetException(e);
                }
            }
            finally
            {
                _slots.Release(started);
            }
        }
    }

    /// <summary>
    /// Commits the units of <paramref name="batch"/> (distinct partitions of one group) as one transaction. A unit
    /// storage refuses fails alone and the rest go again without it; a delete of an entity that is not there is done
    /// (storage names it, and the rest go again as one transaction without it; only a 404 naming no operation goes
    /// change by change); storage that does not answer fails every unit of the batch, acknowledging none.
    /// </summary>
    private async Task Commit(string groupKey, List<Unit> batch)
    {
        var open = batch;
        var gone = new HashSet<(Unit Unit, int Change)>();
        var reclaimed = new HashSet<Unit>();
        while (open.Count > 0)
        {
            var pending = open.SelectMany(unit => unit.Changes.Select((change, i) => (Unit: unit, Index: i, Change: change)))
                .Where(p => !gone.Contains((p.Unit, p.Index))).ToArray();
            if (pending.Length == 0)
            {
                foreach (var unit in open)
                {
                    unit.Done.TrySetResult();
                }
                return;
            }
            // Each leased unit's claim check goes last, in the same transaction as its changes: all of them land or none.
            var leased = open.Where(unit => unit.Lease is not null && pending.Any(p => p.Unit == unit)).ToArray();
            if (pending.Length == 1 && leased.Length == 0)
            {
                // A lone change (a quiet group) is a plain request, cheaper than a transaction of one.
                await Singly(groupKey, pending[0].Unit, [pending[0].Change]);
                foreach (var unit in open.Where(unit => unit != pending[0].Unit))
                {
                    unit.Done.TrySetResult();
                }
                return;
            }
            var actions = pending.Select(p => Action(groupKey, p.Unit.Partition, p.Change)).Concat(leased.Select(unit => ClaimCheck(groupKey, unit))).ToArray();
            CountRequest(actions.Length);
            try
            {
                var answers = await tables.For(groupKey).SubmitTransactionAsync(actions);
                TakeProofs(answers.Value, pending.Length, leased);
                foreach (var unit in open)
                {
                    unit.Done.TrySetResult();
                }
                return;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex is int failed && failed >= pending.Length && failed < actions.Length
                && e.Status is 412 or 404)
            {
                // A claim check refused: nothing of the transaction landed. Another activation loaded the partition (its
                // unit fails alone), or this activation's own transaction landed after its answer was lost (the claim is
                // still its own: the check goes again with the fresh ETag, once).
                var unit = leased[failed - pending.Length];
                if (!reclaimed.Add(unit) || !await StillHeld(groupKey, unit))
                {
                    unit.Done.TrySetException(new IndexLeaseLostException(unit.Partition));
                    open = open.Where(u => u != unit).ToList();
                }
            }
            catch (TableTransactionFailedException e) when (e.Status == 404 && e.FailedTransactionActionIndex is int failed && failed < pending.Length
                && pending[failed].Change.IsRemoval)
            {
                // Removing what is not there is what a removal asks for: done. Per change instead, a batch of 100 was 100
                // requests, on the storage that had just been too slow (a removal follows a create whose write timed out).
                gone.Add((pending[failed].Unit, pending[failed].Index));
                // Its fellow removals most likely follow such creates too. Left in, each refused the whole transaction in
                // turn, and storage did the batch's work once per refusal: on a slow Azurite, more timeouts, hence more
                // removals. Alone, a removal of what is not there is done at the cost of one operation.
                var removals = pending.Where((p, i) => i != failed && p.Change.IsRemoval).ToArray();
                var refused = await RemoveSingly(groupKey, removals);
                foreach (var (unit, error) in refused)
                {
                    unit.Done.TrySetException(error);
                }
                open = open.Where(unit => !refused.ContainsKey(unit)).ToList();
                gone.UnionWith(removals.Select(p => (p.Unit, p.Index)));
            }
            catch (TableTransactionFailedException e) when (e.Status == 404)
            {
                await Task.WhenAll(open.Select(unit => Singly(groupKey, unit, pending.Where(p => p.Unit == unit).Select(p => p.Change).ToArray())));
                return;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex is int failed && failed < pending.Length && IsRefusal(e.Status))
            {
                var culprit = pending[failed].Unit;
                culprit.Done.TrySetException(e);
                open = open.Where(unit => unit != culprit).ToList();
            }
            catch (Exception e)
            {
                foreach (var unit in open)
                {
                    unit.Done.TrySetException(e);
                }
                return;
            }
        }
    }

    /// <summary>
    /// <paramref name="changes"/> of a unit one by one, each a single request: a delete of an entity that is not there
    /// succeeds. A leased unit's go one after another, each with its claim check (<see cref="LeasedAlone"/>).
    /// </summary>
    private async Task Singly(string groupKey, Unit unit, IndexChange[] changes)
    {
        try
        {
            if (unit.Lease is null)
            {
                await Task.WhenAll(changes.Select(change => Alone(groupKey, unit.Partition, change)));
            }
            else
            {
                foreach (var change in changes)
                {
                    await LeasedAlone(groupKey, unit, change);
                }
            }
            unit.Done.TrySetResult();
        }
        catch (Exception e)
        {
            unit.Done.TrySetException(e);
        }
    }

    /// <summary>Each of <paramref name="removals"/> as a request of its own (a delete of what is not there succeeds); the units storage failed, with why.</summary>
    private async Task<Dictionary<Unit, Exception>> RemoveSingly(string groupKey, (Unit Unit, int Index, IndexChange Change)[] removals)
    {
        var unleased = removals.Where(p => p.Unit.Lease is null).Select(async p =>
        {
            try
            {
                await Alone(groupKey, p.Unit.Partition, p.Change);
                return (p.Unit, Error: (Exception?)null);
            }
            catch (Exception e)
            {
                return (p.Unit, Error: e);
            }
        });
        // A leased unit's removals one after another: each check changes the claim's ETag the next one carries.
        var leased = removals.Where(p => p.Unit.Lease is not null).GroupBy(p => p.Unit).Select(async g =>
        {
            try
            {
                foreach (var p in g)
                {
                    await LeasedAlone(groupKey, g.Key, p.Change);
                }
                return (Unit: g.Key, Error: (Exception?)null);
            }
            catch (Exception e)
            {
                return (Unit: g.Key, Error: e);
            }
        });
        var outcomes = await Task.WhenAll(unleased.Concat(leased));
        return outcomes.Where(o => o.Error is not null).DistinctBy(o => o.Unit).ToDictionary(o => o.Unit, o => o.Error!);
    }

    /// <summary>
    /// One change of a leased unit with its claim check, as a transaction of two: a removal of what is not there is done
    /// (nothing landed, nothing needed to); a refused check fails with <see cref="IndexLeaseLostException"/> unless the
    /// claim is still the unit's own (its proof is then refreshed and the change goes again, once).
    /// </summary>
    private async Task LeasedAlone(string groupKey, Unit unit, IndexChange change)
    {
        for (var attempt = 0; ; attempt++)
        {
            CountRequest(2);
            try
            {
                var answers = await tables.For(groupKey).SubmitTransactionAsync([Action(groupKey, unit.Partition, change), ClaimCheck(groupKey, unit)]);
                TakeProofs(answers.Value, 1, [unit]);
                return;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex == 0 && e.Status == 404 && change.IsRemoval)
            {
                return;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex == 1 && e.Status is 412 or 404)
            {
                if (attempt > 0 || !await StillHeld(groupKey, unit))
                {
                    throw new IndexLeaseLostException(unit.Partition);
                }
            }
        }
    }

    /// <summary>A leased unit's claim check: a merge of its claim row that storage refuses unless the row is as this lease last saw it.</summary>
    private static TableTransactionAction ClaimCheck(string groupKey, Unit unit) =>
        new(TableTransactionActionType.UpdateMerge, new TableEntity(groupKey, ClaimRowKey(unit.Partition)) { [HolderColumn] = unit.Lease!.Holder },
            (ETag)unit.Lease.Proof!);

    /// <summary>Each check changed its claim row's ETag: the lease's next write carries the new one.</summary>
    private static void TakeProofs(IReadOnlyList<Response> answers, int first, IReadOnlyList<Unit> leased)
    {
        for (var i = 0; i < leased.Count; i++)
        {
            var etag = first + i < answers.Count ? answers[first + i].Headers.ETag : null;
            // Without an ETag in the answer the lease keeps its old proof; its next check is refused and re-reads the row.
            if (etag is { } fresh)
            {
                leased[i].Lease!.Proof = fresh;
            }
        }
    }

    /// <summary>
    /// Whether the claim row still names <paramref name="unit"/>'s lease; if so, the lease takes its current ETag. It can
    /// have changed without another claim: a transaction of this lease that landed after its answer was lost.
    /// </summary>
    private async Task<bool> StillHeld(string groupKey, Unit unit)
    {
        CountRequest(0);
        var row = await tables.For(groupKey).GetEntityIfExistsAsync<TableEntity>(groupKey, ClaimRowKey(unit.Partition), [HolderColumn]);
        if (!row.HasValue || row.Value is not { } claim || claim.GetString(HolderColumn) != unit.Lease!.Holder)
        {
            return false;
        }
        unit.Lease.Proof = claim.ETag;
        return true;
    }

    /// <summary>One change as a request of its own: an upsert, or a delete that succeeds when the entity is not there.</summary>
    private Task Alone(string groupKey, int partition, IndexChange change)
    {
        CountRequest(1);
        return change.IsRemoval
            ? tables.For(groupKey).DeleteEntityAsync(groupKey, RowKey(partition, change.DeviceId), ETag.All)
            : tables.For(groupKey).UpsertEntityAsync(Entity(groupKey, partition, change), TableUpdateMode.Replace);
    }

    private void CountRequest(int operations)
    {
        Interlocked.Add(ref _operationsSent, operations);
        Interlocked.Increment(ref _requests);
        RegistryMetrics.StorageRequests.Add(1, StoreTag);
    }

    private static TableTransactionAction Action(string groupKey, int partition, IndexChange change) => change.IsRemoval
        ? new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(groupKey, RowKey(partition, change.DeviceId)), ETag.All)
        : new TableTransactionAction(TableTransactionActionType.UpsertReplace, Entity(groupKey, partition, change));

    /// <summary>The entry, or in its place the mark of a write that may still land (replaced whole either way).</summary>
    private static TableEntity Entity(string groupKey, int partition, IndexChange change) => change.Enabled is { } enabled
        ? new(groupKey, RowKey(partition, change.DeviceId)) { [EnabledColumn] = enabled }
        : new(groupKey, RowKey(partition, change.DeviceId)) { [SettleByColumn] = change.SettleBy };

    /// <summary>Storage answered and refused an operation (a bad entity): not an outage.</summary>
    private static bool IsRefusal(int status) => status is >= 400 and < 500 and not 404 and not 408 and not 429;

    /// <summary>Part (at most a transaction) of one partition's write, settled when storage answered for it.</summary>
    private sealed class Unit(int partition, IndexChange[] changes, IndexLease? lease)
    {
        public int Partition => partition;

        public IndexChange[] Changes => changes;

        /// <summary>The lease of the activation that wrote it; null for an unleased write.</summary>
        public IndexLease? Lease => lease;

        /// <summary>Operations it adds to a transaction: its changes and, leased, its claim check.</summary>
        public int Size => changes.Length + (lease is null ? 0 : 1);

        /// <summary>Continuations run off the drain, so a slow partition never holds the group's next transaction.</summary>
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Group(string key)
    {
        public string Key => key;

        /// <summary>Units waiting, oldest first; also the lock of this group.</summary>
        public List<Unit> Queue { get; } = [];

        public bool Draining { get; set; }

        /// <summary>
        /// The oldest units that fit in one transaction, at most one per partition: a partition writes one at a time, so
        /// a second unit of it is part of the same large write or one retried after its first was abandoned at the
        /// timeout, and a transaction may not touch an entity twice.
        /// </summary>
        public List<Unit> TakeBatch()
        {
            var batch = new List<Unit>();
            var partitions = new HashSet<int>();
            var kept = new List<Unit>();
            var size = 0;
            foreach (var unit in Queue)
            {
                // A partition's units go in the order they came: one left behind (no room) keeps its later ones behind too.
                if (partitions.Add(unit.Partition) && size + unit.Size <= MaxTransaction)
                {
                    batch.Add(unit);
                    size += unit.Size;
                }
                else
                {
                    kept.Add(unit);
                }
            }
            Queue.Clear();
            Queue.AddRange(kept);
            return batch;
        }
    }
}
