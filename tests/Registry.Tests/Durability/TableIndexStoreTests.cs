using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Time.Testing;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;
using Registry.Grains.Index;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Durability;

/// <summary>
/// The durable index store against real Azure Table storage (Azurite): an entity per entry, written in entity-group
/// transactions of at most 100, loaded by a range query.
/// </summary>
public sealed class TableIndexStoreTests(AzuriteFixture azurite)
{
    private static readonly string[] TrickyIds = ["ix-a#b", "ix-a?b", "ix-a_b", "ix-a%23b", "ix-Case", "ix-case", "ix-a~7Eb", "ix-" + "-:.+%_#*?!(),=@;$'"];

    private static async Task<TableIndexStore> NewStore(string connectionString, string? tableName = null) =>
        new(await NewTable(connectionString, tableName));

    /// <summary>A table of its own for one test (a store over it, or over a wrapper of it).</summary>
    private static async Task<TableClient> NewTable(string connectionString, string? tableName = null)
    {
        var table = new TableServiceClient(connectionString).GetTableClient(tableName ?? "ix" + Guid.NewGuid().ToString("N")[..12]);
        await table.CreateIfNotExistsAsync(TestContext.Current.CancellationToken);
        return table;
    }

    private static async Task<IndexEntry[]> Loaded(IIndexStore store, int partition) =>
        (await store.Load(partition)).OrderBy(e => e.DeviceId, StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task A_write_of_250_changes_commits_as_several_transactions_and_a_load_gives_exactly_the_entries_written()
    {
        var store = await NewStore(azurite.ConnectionString);
        var ids = TrickyIds.Concat(Enumerable.Range(0, 242).Select(i => $"ix-{i:D4}")).ToArray();
        var written = ids.Select((id, i) => new IndexEntry(id, i % 3 != 0)).ToArray();

        await store.Apply(7, written.Select(e => new IndexChange(e.DeviceId, e.Enabled)).ToArray());
        await store.Apply(8, [new IndexChange("ix-other-partition", true)]);

        Assert.Equal(written.OrderBy(e => e.DeviceId, StringComparer.Ordinal), await Loaded(store, 7));
    }

    /// <summary>
    /// A mark of a write that may still land (issue 8's late-landing fix) is kept in its entry's place and loaded with its
    /// time, so a partition loaded again before the time knows it; an entry written over it replaces it and a removal
    /// takes it out. Before, the mark was in the partition's memory only.
    /// </summary>
    [Fact]
    public async Task A_mark_in_an_entrys_place_is_loaded_with_its_time_and_an_entry_or_a_removal_replaces_it()
    {
        var store = await NewStore(azurite.ConnectionString);
        var settleBy = new DateTimeOffset(2026, 12, 8, 1, 30, 0, TimeSpan.Zero);
        await store.Apply(3, [new IndexChange("ix-kept", true), new IndexChange("ix-marked", true), new IndexChange("ix-later", false)]);

        await store.Apply(3, [new IndexChange("ix-marked", null, settleBy), new IndexChange("ix-never-written", null, settleBy), new IndexChange("ix-later", null, settleBy)]);
        Assert.Equal(
            [new IndexEntry("ix-kept", true), new IndexEntry("ix-later", false, settleBy), new IndexEntry("ix-marked", false, settleBy), new IndexEntry("ix-never-written", false, settleBy)],
            await Loaded(store, 3));

        await store.Apply(3, [new IndexChange("ix-marked", true), new IndexChange("ix-never-written", null), new IndexChange("ix-later", null)]);
        Assert.Equal([new IndexEntry("ix-kept", true), new IndexEntry("ix-marked", true)], await Loaded(store, 3));
    }

    [Fact]
    public async Task A_store_over_several_tables_keeps_each_storage_groups_entries_in_its_table_and_loads_exactly_what_was_written()
    {
        var ct = TestContext.Current.CancellationToken;
        var name = "ixt" + Guid.NewGuid().ToString("N")[..10];
        var tables = StorageTables.Of(new TableServiceClient(azurite.ConnectionString), name, 3);
        foreach (var table in tables.All)
        {
            await table.CreateIfNotExistsAsync(ct);
        }
        var groups = new StorageGroups(8);
        var store = new TableIndexStore(tables, groups: groups);
        var written = Enumerable.Range(0, 16).ToDictionary(p => p, p => Enumerable.Range(0, 30).Select(i => new IndexEntry($"ixt-{p}-{i}", i % 2 == 0)).ToArray());

        // Leased and unleased writes, concurrently: a group's transactions go to its table whatever else is in flight.
        await Task.WhenAll(written.Select(async w =>
        {
            var lease = w.Key % 2 == 0 ? new IndexLease() : null;
            if (lease is not null)
            {
                await store.Load(w.Key, lease);
            }
            await store.Apply(w.Key, w.Value.Select(e => new IndexChange(e.DeviceId, e.Enabled)).ToArray(), lease);
        }));

        // Group g (partitions g and g + 8) is in table g mod 3, and no other table holds its key.
        for (var t = 0; t < 3; t++)
        {
            var keys = tables.All[t].Query<TableEntity>(select: ["PartitionKey"], cancellationToken: ct).Select(e => e.PartitionKey).Distinct().Order(StringComparer.Ordinal).ToArray();
            var expected = Enumerable.Range(0, 8).Where(g => g % 3 == t).Select(groups.Key).ToArray();
            Assert.Equal(expected, keys);
        }
        Assert.Equal(name + "2", tables.All[2].Name);
        var reader = new TableIndexStore(StorageTables.Of(new TableServiceClient(azurite.ConnectionString), name, 3), groups: groups);
        foreach (var (partition, entries) in written)
        {
            Assert.Equal(entries.OrderBy(e => e.DeviceId, StringComparer.Ordinal), await Loaded(reader, partition));
        }
        // Read as one table (the layout without the setting), the other tables' partitions are simply not there.
        Assert.Empty(await new TableIndexStore(tables.All[0], groups: groups).Load(1));
    }

    [Fact]
    public async Task The_entries_written_and_the_transactions_they_took_reach_the_registry_meter_tagged_as_the_index_store()
    {
        using var meter = new StorageMeter();
        var store = await NewStore(azurite.ConnectionString);

        await store.Apply(3, Enumerable.Range(0, 250).Select(i => new IndexChange($"ix-m-{i:D4}", true)).ToArray());

        Assert.Equal((250L, 3L), (store.Writes, store.Requests)); // 100 + 100 + 50
        Assert.True(meter.Writes(RegistryMetrics.Stores.Index) >= 250, $"{meter.Writes(RegistryMetrics.Stores.Index)} entries counted");
        Assert.True(meter.Requests(RegistryMetrics.Stores.Index) >= 3, $"{meter.Requests(RegistryMetrics.Stores.Index)} requests counted");
        Assert.Equal(0, meter.Writes(null));
    }

    [Fact(Timeout = 60_000)]
    public async Task While_every_request_slot_is_busy_the_waiting_groups_keep_queueing_and_send_one_fuller_transaction_each()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = await NewTable(azurite.ConnectionString);
        var gated = new GatedTableClient(table);
        var store = new TableIndexStore(gated, requestsInFlight: 2);
        // Partitions 0-3 are four groups, one change each: two take the slots and wait at the gate, two wait for a slot.
        var first = Enumerable.Range(0, 4).Select(p => store.Apply(p, [new IndexChange($"ix-slot-{p}", true)])).ToArray();
        await gated.UntilInFlight(2, ct);
        var waiting = Enumerable.Range(0, 4).Where(p => !gated.InFlight.Contains(StorageGroups.Default.Key(p))).ToArray();
        Assert.Equal(2, waiting.Length);

        // Another partition of each waiting group writes meanwhile: it joins its group's queue.
        var more = waiting.Select(p => store.Apply(p + StorageGroups.DefaultCount,
            Enumerable.Range(0, 50).Select(i => new IndexChange($"ix-slot-{p}-{i}", true)).ToArray())).ToArray();
        gated.Open();
        await Task.WhenAll(first.Concat(more)).WaitAsync(ct);

        Assert.Equal(2, gated.MaxInFlight);
        Assert.Equal((104L, 4L), (store.Writes, store.Requests)); // two single upserts, then two transactions of 51
        var reader = new TableIndexStore(table);
        foreach (var p in waiting)
        {
            Assert.Equal(50, (await reader.Load(p + StorageGroups.DefaultCount)).Count);
            Assert.Single(await reader.Load(p));
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task After_storage_answers_slowly_the_store_keeps_half_as_many_requests_in_flight_and_adds_them_back_as_answers_come_promptly()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = await NewTable(azurite.ConnectionString);
        var gated = new GatedTableClient(table);
        var time = new FakeTimeProvider();
        var store = new TableIndexStore(gated, requestsInFlight: 4, slowRequest: TimeSpan.FromSeconds(1), time: time);

        // Four groups, one change each, answered 2 s later by the store's clock: slower than its mark of 1 s.
        var slow = Enumerable.Range(0, 4).Select(p => store.Apply(p, [new IndexChange($"ix-slow-{p}", true)])).ToArray();
        await gated.UntilInFlight(4, ct);
        time.Advance(TimeSpan.FromSeconds(2));
        gated.Open();
        await Task.WhenAll(slow).WaitAsync(ct);
        Assert.Equal(2, store.RequestsInFlightNow);

        // Four more groups go two at a time; their prompt answers add a slot back.
        gated.Close();
        var prompt = Enumerable.Range(4, 4).Select(p => store.Apply(p, [new IndexChange($"ix-prompt-{p}", true)])).ToArray();
        await gated.UntilInFlight(2, ct);
        Assert.Equal(2, gated.InFlight.Count);
        gated.Open();
        await Task.WhenAll(prompt).WaitAsync(ct);

        Assert.Equal(2, gated.MaxInFlight);
        Assert.Equal((3, 4), (store.RequestsInFlightNow, store.RequestsInFlight));
        var reader = new TableIndexStore(table);
        foreach (var p in Enumerable.Range(0, 8))
        {
            Assert.Equal([p < 4 ? $"ix-slow-{p}" : $"ix-prompt-{p}"], (await reader.Load(p)).Select(e => e.DeviceId));
        }
    }

    [Fact]
    public async Task Removals_of_ids_never_stored_are_dropped_from_the_transaction_storage_names_them_in_instead_of_sending_every_change_alone()
    {
        var store = await NewStore(azurite.ConnectionString);
        var adds = Enumerable.Range(0, 60).Select(i => new IndexChange($"ix-keep-{i:D3}", true));
        var absent = Enumerable.Range(0, 3).Select(i => new IndexChange($"ix-absent-{i}", null));

        await store.Apply(5, adds.Concat(absent).ToArray());

        // One transaction refused per absent id, each naming it, then the rest as one: 4 requests, not 63 single ones.
        Assert.Equal((63L, 4L), (store.Writes, store.Requests));
        Assert.Equal(adds.Select(a => new IndexEntry(a.DeviceId, true)), await Loaded(store, 5));
    }

    [Fact]
    public async Task Many_removals_of_ids_never_stored_in_one_transaction_cost_storage_each_change_about_once_not_once_per_refusal()
    {
        // Removals follow creates whose writes timed out, so on slow storage a batch holds many of them: the transaction was
        // refused once per absent id and sent again without it, 41 times 100 to 61 operations (3,220) for these 100 changes.
        var store = await NewStore(azurite.ConnectionString);
        var adds = Enumerable.Range(0, 60).Select(i => new IndexChange($"ix-keep-{i:D3}", true)).ToArray();
        var absent = Enumerable.Range(0, 40).Select(i => new IndexChange($"ix-absent-{i:D3}", null));

        await store.Apply(7, adds.Concat(absent).ToArray());

        Assert.Equal(100L, store.Writes);
        Assert.InRange(store.OperationsSent, 100L, 200L);
        Assert.Equal(adds.Select(a => new IndexEntry(a.DeviceId, true)), await Loaded(store, 7));
    }

    [Fact]
    public async Task A_write_mixing_re_flags_removals_of_stored_ids_and_removals_of_ids_never_stored_leaves_exactly_the_rest()
    {
        var store = await NewStore(azurite.ConnectionString);
        var ids = Enumerable.Range(0, 150).Select(i => $"ix-{i:D4}").ToArray();
        await store.Apply(1, ids.Select(id => new IndexChange(id, true)).ToArray());

        // A removal retried after it landed, or of an add that never did, must not fail its transaction.
        var changes = ids.Where((_, i) => i % 2 == 0).Select(id => new IndexChange(id, null))
            .Concat(ids.Where((_, i) => i % 2 == 1 && i % 5 == 1).Select(id => new IndexChange(id, false)))
            .Append(new IndexChange("ix-never-stored", null)).ToArray();
        await store.Apply(1, changes);

        var expected = ids.Select((id, i) => (id, i)).Where(e => e.i % 2 == 1).Select(e => new IndexEntry(e.id, e.i % 5 != 1));
        Assert.Equal(expected.OrderBy(e => e.DeviceId, StringComparer.Ordinal), await Loaded(store, 1));
    }

    [Fact(Timeout = 120_000)]
    public async Task Loading_a_partition_after_storage_restarts_gives_exactly_the_ids_written()
    {
        var ct = TestContext.Current.CancellationToken;
        var storage = await AzuriteServer.StartAsync(Directory.CreateTempSubdirectory("azurite-").FullName, ct);
        try
        {
            var table = "ixr" + Guid.NewGuid().ToString("N")[..12];
            var store = await NewStore(storage.ConnectionString, table);
            var ids = TrickyIds.Concat(Enumerable.Range(0, 120).Select(i => $"ix-r-{i}")).ToArray();
            await store.Apply(0, ids.Select(id => new IndexChange(id, true)).ToArray());
            await store.Apply(0, ids.Take(10).Select(id => new IndexChange(id, null)).ToArray());

            await storage.StopAsync(ct); // SIGTERM: Azurite saves what it holds, as a stopped service does
            storage = await storage.RestartAsync(ct);

            var reopened = await NewStore(storage.ConnectionString, table);
            Assert.Equal(ids.Skip(10).Order(StringComparer.Ordinal), (await Loaded(reopened, 0)).Select(e => e.DeviceId));
        }
        finally
        {
            await storage.DisposeAsync();
        }
    }

    [Fact]
    public async Task Concurrent_writes_of_many_partitions_share_transactions_and_each_partition_loads_exactly_its_own_entries()
    {
        var name = "ix" + Guid.NewGuid().ToString("N")[..12];
        var store = await NewStore(azurite.ConnectionString, name);
        // 200 partitions in 32 storage groups: partitions p, p+32, p+64 ... share a PartitionKey, as a bulk's do.
        var writes = Enumerable.Range(0, 200).Select(p => (Partition: p, Changes: (p == 0 || p == StorageGroups.DefaultCount ? TrickyIds : [$"ix-{p}-a", $"ix-{p}-b"])
            .Select((id, i) => new IndexChange(p == StorageGroups.DefaultCount ? id + "-other" : id, i % 2 == 0)).ToArray())).ToArray();

        // Started together, as the partitions of one bulk write: the writes of a group queue while its request is in flight.
        await Task.WhenAll(writes.Select(w => store.Apply(w.Partition, w.Changes)));

        Assert.Equal(writes.Sum(w => w.Changes.Length), store.Writes);
        Assert.True(store.Requests < writes.Length, $"{store.Requests} requests for the writes of {writes.Length} partitions");
        var reopened = await NewStore(azurite.ConnectionString, name);
        foreach (var (partition, changes) in writes)
        {
            Assert.Equal(changes.Select(c => new IndexEntry(c.DeviceId, c.Enabled!.Value)).OrderBy(e => e.DeviceId, StringComparer.Ordinal), await Loaded(reopened, partition));
        }
    }

    [Fact]
    public async Task When_storage_fails_a_transaction_of_several_partitions_its_writes_fail_and_land_nowhere_while_every_acknowledged_write_loads()
    {
        var name = "ix" + Guid.NewGuid().ToString("N")[..12];
        var table = new TableServiceClient(azurite.ConnectionString).GetTableClient(name);
        await table.CreateIfNotExistsAsync(TestContext.Current.CancellationToken);
        // Storage fails (503) every request that carries the poisoned id: the transaction it is in, with its neighbours.
        var store = new TableIndexStore(new FailingTableClient(table, poisoned: "ix-poisoned"));
        var writes = Enumerable.Range(0, 200).Select(p => (Partition: p, Changes: new[]
        {
            new IndexChange(p == 33 ? "ix-poisoned" : $"ix-{p}-a", true),
            new IndexChange($"ix-{p}-b", false),
        })).ToArray();

        var outcomes = await Task.WhenAll(writes.Select(async w =>
        {
            try
            {
                await store.Apply(w.Partition, w.Changes);
                return true;
            }
            catch (RequestFailedException e) when (e.Status == 503)
            {
                return false;
            }
        }));

        Assert.False(outcomes[33]);
        Assert.Contains(true, outcomes);
        var reopened = await NewStore(azurite.ConnectionString, name);
        foreach (var ((partition, changes), acknowledged) in writes.Zip(outcomes))
        {
            // Acknowledged: every entry is stored. Failed: none is (a transaction lands whole or not at all).
            IndexEntry[] expected = acknowledged ? [.. changes.Select(c => new IndexEntry(c.DeviceId, c.Enabled!.Value)).OrderBy(e => e.DeviceId, StringComparer.Ordinal)] : [];
            Assert.Equal(expected, await Loaded(reopened, partition));
        }
    }

    /// <summary>A table whose requests fail as an outage would (503) whenever they carry <paramref name="poisoned"/>'s entry.</summary>
    private sealed class FailingTableClient(TableClient inner, string poisoned) : TableClient
    {
        private bool Poisoned(string rowKey) => rowKey.EndsWith("-" + poisoned, StringComparison.Ordinal);

        public override Task<Response<IReadOnlyList<Response>>> SubmitTransactionAsync(
            IEnumerable<TableTransactionAction> transactionActions, CancellationToken cancellationToken = default)
        {
            var actions = transactionActions.ToArray();
            return actions.Any(a => Poisoned(a.Entity.RowKey))
                ? Task.FromException<Response<IReadOnlyList<Response>>>(new RequestFailedException(503, "storage is failing"))
                : inner.SubmitTransactionAsync(actions, cancellationToken);
        }

        public override Task<Response> UpsertEntityAsync<T>(T entity, TableUpdateMode mode = TableUpdateMode.Merge, CancellationToken cancellationToken = default) =>
            Poisoned(entity.RowKey)
                ? Task.FromException<Response>(new RequestFailedException(503, "storage is failing"))
                : inner.UpsertEntityAsync(entity, mode, cancellationToken);

        public override Task<Response> DeleteEntityAsync(string partitionKey, string rowKey, ETag ifMatch = default, CancellationToken cancellationToken = default) =>
            inner.DeleteEntityAsync(partitionKey, rowKey, ifMatch, cancellationToken);
    }

    private static IndexChange[] Add(params string[] ids) => ids.Select(id => new IndexChange(id, true)).ToArray();

    private static async Task<string[]> Ids(IIndexStore store, int partition) =>
        (await store.Load(partition)).Select(e => e.DeviceId).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task A_write_of_an_activation_whose_partition_another_activation_has_loaded_since_is_refused_and_nothing_of_it_lands()
    {
        var table = await NewTable(azurite.ConnectionString);
        // Two silos' stores over one table: the first silo's activation of partition 5, then a second one elsewhere.
        var first = new TableIndexStore(table);
        var second = new TableIndexStore(table);
        var old = new IndexLease();
        await first.Load(5, old);
        await first.Apply(5, Add("ix-kept"), old);
        await first.Apply(5, Add(Enumerable.Range(0, 150).Select(i => $"ix-old-{i:D3}").ToArray()), old); // two transactions, each with its check

        var current = new IndexLease();
        var loaded = (await second.Load(5, current)).Select(e => e.DeviceId).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(151, loaded.Count);

        // A lone change, a transaction of changes and removals, a removal: each refused whole.
        await Assert.ThrowsAsync<IndexLeaseLostException>(() => first.Apply(5, Add("ix-late"), old));
        await Assert.ThrowsAsync<IndexLeaseLostException>(() => first.Apply(5, [new IndexChange("ix-late-2", true), new IndexChange("ix-kept", null)], old));
        await Assert.ThrowsAsync<IndexLeaseLostException>(() => first.Apply(5, [new IndexChange("ix-old-000", null)], old));
        await second.Apply(5, Add("ix-new"), current);

        var stored = await Ids(new TableIndexStore(table), 5);
        Assert.Equal(loaded.Append("ix-new").Order(StringComparer.Ordinal), stored);
        // The claim row is not an entry: an unleased load (tools) and the claiming loads give the entries alone.
        Assert.Equal(stored, (await second.Load(5, new IndexLease())).Select(e => e.DeviceId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_leased_removal_of_what_is_not_stored_is_done_and_the_lease_writes_on()
    {
        var store = await NewStore(azurite.ConnectionString);
        var lease = new IndexLease();
        await store.Load(9, lease);

        // A removal of an absent entry fails its transaction (404): alone, with another removal, and beside an upsert.
        await store.Apply(9, [new IndexChange("ix-ghost-1", null)], lease);
        await store.Apply(9, [new IndexChange("ix-ghost-2", null), new IndexChange("ix-ghost-3", null), new IndexChange("ix-here", true)], lease);
        await store.Apply(9, [new IndexChange("ix-ghost-4", null), new IndexChange("ix-here-2", true)], lease);
        await store.Apply(9, Add("ix-after"), lease);

        Assert.Equal(["ix-after", "ix-here", "ix-here-2"], await Ids(store, 9));
    }

    [Fact]
    public async Task A_leased_write_after_its_own_lost_answer_changed_its_claim_row_goes_on()
    {
        var table = await NewTable(azurite.ConnectionString);
        var store = new TableIndexStore(table);
        var lease = new IndexLease();
        await store.Load(11, lease);
        await store.Apply(11, Add("ix-one"), lease);

        // A transaction of this lease that landed after its answer was lost: the claim row's ETag moved, its holder did not.
        await table.UpsertEntityAsync(new TableEntity(StorageGroups.Default.Key(11), TableIndexStore.PartitionKey(11)) { ["Holder"] = lease.Holder },
            TableUpdateMode.Merge, TestContext.Current.CancellationToken);
        await store.Apply(11, Add("ix-two"), lease);
        await table.UpsertEntityAsync(new TableEntity(StorageGroups.Default.Key(11), TableIndexStore.PartitionKey(11)) { ["Holder"] = lease.Holder },
            TableUpdateMode.Merge, TestContext.Current.CancellationToken);
        await store.Apply(11, [new IndexChange("ix-one", null), new IndexChange("ix-three", true)], lease);

        Assert.Equal(["ix-three", "ix-two"], await Ids(store, 11));
    }

    [Fact(Timeout = 60_000)]
    public async Task In_one_transaction_a_write_whose_lease_was_lost_fails_alone_and_the_other_partitions_writes_land()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = await NewTable(azurite.ConnectionString);
        var gated = new GatedTableClient(table);
        gated.Open();
        var store = new TableIndexStore(gated, requestsInFlight: 1);
        // Partitions 5 and 5 + 32 share a PartitionKey; the first loses its lease to another silo.
        var (lost, kept) = (new IndexLease(), new IndexLease());
        await store.Load(5, lost);
        await store.Load(5 + StorageGroups.DefaultCount, kept);
        await new TableIndexStore(table).Load(5, new IndexLease());

        // The one request slot held at the gate: the two partitions' writes queue together and go as one transaction.
        gated.Close();
        var holding = store.Apply(1, Add("ix-hold"));
        await gated.UntilInFlight(1, ct);
        var refused = store.Apply(5, Add("ix-lost-1", "ix-lost-2"), lost);
        var landed = store.Apply(5 + StorageGroups.DefaultCount, Add("ix-kept-1", "ix-kept-2"), kept);
        var requests = gated.Requests;
        gated.Open();
        await holding.WaitAsync(ct);

        await Assert.ThrowsAsync<IndexLeaseLostException>(() => refused.WaitAsync(ct));
        await landed.WaitAsync(ct);
        Assert.Equal(requests + 2, gated.Requests); // the shared transaction, refused, then the kept write's again
        Assert.Empty(await Ids(new TableIndexStore(table), 5));
        Assert.Equal(["ix-kept-1", "ix-kept-2"], await Ids(new TableIndexStore(table), 5 + StorageGroups.DefaultCount));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_partitions_later_write_never_overtakes_an_earlier_one_that_did_not_fit_the_transaction()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = await NewTable(azurite.ConnectionString);
        var gated = new GatedTableClient(table);
        var store = new TableIndexStore(gated, requestsInFlight: 1);
        const int other = 5, partition = 5 + StorageGroups.DefaultCount; // one PartitionKey

        // The one request slot held at the gate, so the group's writes queue: 60 changes of another partition, then this
        // partition's add of X (with 49 more, too many to join those 60), then its removal of X.
        var holding = store.Apply(1, Add("ix-hold"));
        await gated.UntilInFlight(1, ct);
        var first = store.Apply(other, Add(Enumerable.Range(0, 60).Select(i => $"ix-other-{i:D2}").ToArray()));
        var add = store.Apply(partition, Add(["ix-x", .. Enumerable.Range(0, 49).Select(i => $"ix-more-{i:D2}")]));
        var remove = store.Apply(partition, [new IndexChange("ix-x", null)]);
        gated.Open();
        await Task.WhenAll(holding, first, add, remove).WaitAsync(ct);

        // Taken ahead of the add (it fitted beside the 60), the removal found nothing to remove and the add then stored X.
        Assert.DoesNotContain("ix-x", await Ids(new TableIndexStore(table), partition));
        Assert.Equal(49, (await Ids(new TableIndexStore(table), partition)).Length);
    }
}
