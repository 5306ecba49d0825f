using Azure.Core;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Orleans.Serialization;
using Orleans.Storage;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;
using Registry.Grains.Storage;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Durability;

/// <summary>
/// The batched device-row store against real Azure Table storage (Azurite): concurrent writers of a bucket share
/// entity-group transactions, and each still gets the outcome of a row of its own.
/// </summary>
public sealed class DeviceRowStorageTests(AzuriteFixture azurite)
{
    private const string StateName = "device";
    private const int Partitions = 64;
    private static readonly GrainType DeviceType = GrainType.Create("device");
    private static readonly IGrainStorageSerializer Serializer =
        new OrleansGrainStorageSerializer(new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>());

    private static async Task<DeviceRowStorage> NewStore(string connectionString, string? tableName = null) =>
        new(await NewTable(connectionString, tableName), Partitions, Serializer, NullLogger<DeviceRowStorage>.Instance);

    private static async Task<TableClient> NewTable(string connectionString, string? tableName = null)
    {
        // Retries bounded as the host bounds them, so an outage fails within the test's time.
        var options = new TableClientOptions();
        options.Retry.Mode = RetryMode.Fixed;
        options.Retry.MaxRetries = 1;
        options.Retry.Delay = TimeSpan.FromMilliseconds(50);
        var table = new TableServiceClient(connectionString, options).GetTableClient(tableName ?? "rows" + Guid.NewGuid().ToString("N")[..12]);
        await table.CreateIfNotExistsAsync(TestContext.Current.CancellationToken);
        return table;
    }

    /// <summary>As the host calls the store: the grain key escaped first.</summary>
    private static GrainId Grain(string deviceId) => KeyEscapingGrainStorage.Escape(GrainId.Create(DeviceType, deviceId));

    /// <summary>Ids that all fall in one index partition, hence one PartitionKey, so their writes can share transactions.</summary>
    private static string[] SameBucket(string prefix, int count) =>
        Enumerable.Range(0, int.MaxValue).Select(i => $"{prefix}-{i}")
            .Where(id => StorageGroups.Default.Key(DevicePartitioner.PartitionOf(id, Partitions)) == StorageGroups.Default.Key(DevicePartitioner.PartitionOf(prefix + "-0", Partitions)))
            .Take(count).ToArray();

    private static async Task<(string Id, GrainState<string> State, Exception? Error)[]> WriteAll(
        IGrainStorage store, IEnumerable<(string Id, GrainState<string> State)> writes, Func<GrainId, GrainState<string>, Task>? operation = null)
    {
        operation ??= (grain, state) => store.WriteStateAsync(StateName, grain, state);
        // Started together, as device grains of one bulk are: the writes queue while a transaction is in flight.
        var started = writes.Select(w => (w.Id, w.State, Task: operation(Grain(w.Id), w.State))).ToArray();
        var outcomes = new List<(string, GrainState<string>, Exception?)>();
        foreach (var (id, state, task) in started)
        {
            try
            {
                await task;
                outcomes.Add((id, state, null));
            }
            catch (Exception e)
            {
                outcomes.Add((id, state, e));
            }
        }
        return outcomes.ToArray();
    }

    private static async Task<GrainState<string>> Read(IGrainStorage store, string id)
    {
        var state = new GrainState<string>();
        await store.ReadStateAsync(StateName, Grain(id), state);
        return state;
    }

    [Fact]
    public async Task Concurrent_creates_of_one_bucket_share_transactions_and_each_writer_gets_the_storage_etag_of_its_row()
    {
        var store = await NewStore(azurite.ConnectionString);
        var ids = SameBucket("rows-create", 250);

        var outcomes = await WriteAll(store, ids.Select(id => (id, new GrainState<string>("identity of " + id))));

        Assert.All(outcomes, o => Assert.Null(o.Error));
        Assert.Equal(250, store.Writes);
        Assert.True(store.Requests < store.Writes, $"{store.Requests} requests for {store.Writes} writes");
        foreach (var (id, state, _) in outcomes)
        {
            var read = await Read(store, id);
            Assert.Equal(("identity of " + id, state.ETag, true), (read.State, read.ETag, read.RecordExists));
        }
    }

    [Fact]
    public async Task The_rows_written_and_the_requests_they_took_reach_the_registry_meter_tagged_as_the_device_row_store()
    {
        using var meter = new StorageMeter();
        var store = await NewStore(azurite.ConnectionString);

        var outcomes = await WriteAll(store, SameBucket("rows-metered", 250).Select(id => (id, new GrainState<string>("identity of " + id))));

        Assert.All(outcomes, o => Assert.Null(o.Error));
        Assert.True(meter.Writes(RegistryMetrics.Stores.DeviceRows) >= 250, $"{meter.Writes(RegistryMetrics.Stores.DeviceRows)} rows counted");
        Assert.True(meter.Requests(RegistryMetrics.Stores.DeviceRows) >= store.Requests, $"{meter.Requests(RegistryMetrics.Stores.DeviceRows)} requests counted, {store.Requests} made");
        Assert.Equal(0, meter.Writes(null));
    }

    [Fact(Timeout = 60_000)]
    public async Task While_every_request_slot_is_busy_the_waiting_buckets_keep_queueing_and_send_one_fuller_transaction_each()
    {
        var ct = TestContext.Current.CancellationToken;
        var inner = await NewTable(azurite.ConnectionString);
        var gated = new GatedTableClient(inner);
        var store = new DeviceRowStorage(gated, Partitions, Serializer, NullLogger<DeviceRowStorage>.Instance, requestsInFlight: 2);
        // Four buckets, one write each: two take the slots and wait at the gate, two wait for a slot.
        var buckets = Enumerable.Range(0, int.MaxValue).Select(i => $"slots-{i}")
            .DistinctBy(id => StorageGroups.Default.Key(DevicePartitioner.PartitionOf(id, Partitions))).Take(4).ToArray();
        var first = buckets.Select(id => store.WriteStateAsync(StateName, Grain(id), new GrainState<string>("first " + id))).ToArray();
        await gated.UntilInFlight(2, ct);
        var sending = gated.InFlight;
        var waiting = buckets.Where(id => !sending.Contains(StorageGroups.Default.Key(DevicePartitioner.PartitionOf(id, Partitions)))).ToArray();
        Assert.Equal(2, waiting.Length);

        // Writes arriving meanwhile join the waiting buckets' queues.
        var later = waiting.SelectMany(id => Enumerable.Range(0, int.MaxValue).Select(i => $"{id}-{i}")
            .Where(x => StorageGroups.Default.Key(DevicePartitioner.PartitionOf(x, Partitions)) == StorageGroups.Default.Key(DevicePartitioner.PartitionOf(id, Partitions))).Take(50)).ToArray();
        var more = later.Select(id => store.WriteStateAsync(StateName, Grain(id), new GrainState<string>("later " + id))).ToArray();
        gated.Open();
        await Task.WhenAll(first.Concat(more)).WaitAsync(ct);

        Assert.Equal(2, gated.MaxInFlight);
        Assert.Equal((104L, 4L), (store.Writes, store.Requests)); // two single inserts, then two transactions of 51
        Assert.Equal(4, gated.Requests);
        var reader = new DeviceRowStorage(inner, Partitions, Serializer, NullLogger<DeviceRowStorage>.Instance);
        foreach (var id in buckets.Concat(later))
        {
            Assert.True((await Read(reader, id)).RecordExists, id);
        }
    }

    [Fact]
    public async Task An_insert_of_an_existing_row_fails_only_its_writer_while_the_other_99_of_its_batch_land()
    {
        var store = await NewStore(azurite.ConnectionString);
        var ids = SameBucket("rows-conflict", 100);
        var existing = ids[37];
        await store.WriteStateAsync(StateName, Grain(existing), new GrainState<string>("first"));

        var outcomes = await WriteAll(store, ids.Select(id => (id, new GrainState<string>("second " + id))));

        var failed = Assert.Single(outcomes, o => o.Error is not null);
        Assert.Equal(existing, failed.Id);
        Assert.IsAssignableFrom<InconsistentStateException>(failed.Error);
        Assert.Equal("first", (await Read(store, existing)).State);
        foreach (var (id, state, _) in outcomes.Where(o => o.Id != existing))
        {
            var read = await Read(store, id);
            Assert.Equal(("second " + id, state.ETag), (read.State, read.ETag));
        }
        Assert.True(store.Requests < store.Writes, $"{store.Requests} requests for {store.Writes} writes");
    }

    [Fact]
    public async Task An_update_with_a_stale_storage_etag_fails_only_its_writer_and_the_others_replace_their_rows()
    {
        var store = await NewStore(azurite.ConnectionString);
        var ids = SameBucket("rows-stale", 100);
        var created = await WriteAll(store, ids.Select(id => (id, new GrainState<string>("v1"))));
        var stale = ids[63];
        var staleETag = created.Single(o => o.Id == stale).State.ETag;
        // Another activation moved that row on: the first writer's storage ETag is stale now.
        var other = new GrainState<string>("v2 by another") { ETag = staleETag };
        await store.WriteStateAsync(StateName, Grain(stale), other);

        var outcomes = await WriteAll(store, created.Select(o => (o.Id, new GrainState<string>("v2") { ETag = o.State.ETag })));

        var failed = Assert.Single(outcomes, o => o.Error is not null);
        Assert.Equal(stale, failed.Id);
        Assert.IsAssignableFrom<InconsistentStateException>(failed.Error);
        Assert.Equal(("v2 by another", other.ETag), ((await Read(store, stale)).State, (await Read(store, stale)).ETag));
        foreach (var (id, state, _) in outcomes.Where(o => o.Id != stale))
        {
            var read = await Read(store, id);
            Assert.Equal(("v2", state.ETag), (read.State, read.ETag));
            Assert.NotEqual(created.Single(c => c.Id == id).State.ETag, state.ETag);
        }
    }

    [Fact]
    public async Task Deletes_in_one_batch_remove_their_rows_and_a_delete_of_a_row_already_gone_succeeds()
    {
        var store = await NewStore(azurite.ConnectionString);
        var ids = SameBucket("rows-delete", 60);
        var created = await WriteAll(store, ids.Select(id => (id, new GrainState<string>("v1"))));
        var gone = ids[11];
        await store.ClearStateAsync(StateName, Grain(gone), new GrainState<string>("v1") { ETag = created.Single(o => o.Id == gone).State.ETag });

        var outcomes = await WriteAll(store, created.Select(o => (o.Id, o.State)), (grain, state) => store.ClearStateAsync(StateName, grain, state));

        Assert.All(outcomes, o => Assert.Null(o.Error));
        Assert.All(outcomes, o => Assert.Equal((null, false), (o.State.ETag, o.State.RecordExists)));
        foreach (var id in ids)
        {
            var read = await Read(store, id);
            Assert.Equal((null, null, false), (read.State, read.ETag, read.RecordExists));
        }
        // Deleted, a row can be created again by an insert.
        await store.WriteStateAsync(StateName, Grain(gone), new GrainState<string>("again"));
        Assert.Equal("again", (await Read(store, gone)).State);
    }

    [Fact]
    public async Task A_batch_of_deletes_half_of_whose_rows_are_gone_costs_storage_each_delete_about_once_not_once_per_refusal()
    {
        // A delete of a row already gone refuses its whole transaction; sent again without it each time, a batch of 60 with
        // 30 gone asked storage for about 1,300 operations.
        var store = await NewStore(azurite.ConnectionString);
        var ids = SameBucket("rows-gone", 60);
        var created = await WriteAll(store, ids.Select(id => (id, new GrainState<string>("v1"))));
        foreach (var (id, state, _) in created.Where((_, i) => i % 2 == 0))
        {
            await store.ClearStateAsync(StateName, Grain(id), new GrainState<string>("v1") { ETag = state.ETag });
        }
        var sentBefore = store.OperationsSent;

        var outcomes = await WriteAll(store, created.Select(o => (o.Id, new GrainState<string>("v1") { ETag = o.State.ETag })),
            (grain, state) => store.ClearStateAsync(StateName, grain, state));

        Assert.All(outcomes, o => Assert.Null(o.Error));
        Assert.InRange(store.OperationsSent - sentBefore, 60L, 120L);
        foreach (var id in ids)
        {
            Assert.False((await Read(store, id)).RecordExists);
        }
    }

    [Fact]
    public async Task Ids_with_characters_table_keys_refuse_keep_rows_of_their_own()
    {
        var store = await NewStore(azurite.ConnectionString);
        string[] ids = ["rows-a#b", "rows-a?b", "rows-a_b", "rows-a/b", "rows-a\\b", "rows-a~23b", "rows-a%23b", "rows-" + "-:.+%_#*?!(),=@;$'"];

        var outcomes = await WriteAll(store, ids.Select(id => (id, new GrainState<string>("identity of " + id))));

        Assert.All(outcomes, o => Assert.Null(o.Error));
        foreach (var id in ids)
        {
            Assert.Equal("identity of " + id, (await Read(store, id)).State);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_write_still_queued_past_the_storage_timeout_is_dropped_unsent_and_never_lands()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = await OneSlotQueue("expire", ct);

        queue.Time.Advance(TimeSpan.FromSeconds(5)); // its caller (BoundedGrainStorage) has answered 503 by now
        queue.Gated.Open();
        await queue.Sent.WaitAsync(ct);

        await Assert.ThrowsAsync<TimeoutException>(() => queue.Queued.WaitAsync(ct));
        Assert.Equal(1, queue.Gated.Requests);
        Assert.Equal(1, queue.Store.Dropped);
        Assert.False((await Read(queue.Reader, queue.Buckets[1])).RecordExists);
        Assert.Equal("sent", (await Read(queue.Reader, queue.Buckets[0])).State);
        // The slot taken for the dropped write was given back: the next write of its bucket goes.
        await queue.Store.WriteStateAsync(StateName, Grain(queue.Buckets[1]), new GrainState<string>("after")).WaitAsync(ct);
        Assert.Equal("after", (await Read(queue.Reader, queue.Buckets[1])).State);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_write_queued_within_the_storage_timeout_is_sent_when_its_slot_comes()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = await OneSlotQueue("inside", ct);

        queue.Time.Advance(TimeSpan.FromSeconds(4.9));
        queue.Gated.Open();
        await Task.WhenAll(queue.Sent, queue.Queued).WaitAsync(ct);

        Assert.Equal(2, queue.Gated.Requests);
        Assert.Equal(0, queue.Store.Dropped);
        Assert.Equal("queued", (await Read(queue.Reader, queue.Buckets[1])).State);
    }

    /// <summary>A store of one request slot and a 5 s queue timeout on a fake clock: one write held at the gate, a second queued behind it.</summary>
    private async Task<QueuedWrite> OneSlotQueue(string prefix, CancellationToken ct)
    {
        var inner = await NewTable(azurite.ConnectionString);
        var gated = new GatedTableClient(inner);
        var time = new FakeTimeProvider();
        var store = new DeviceRowStorage(gated, Partitions, Serializer, NullLogger<DeviceRowStorage>.Instance, requestsInFlight: 1,
            slowRequest: TimeSpan.FromSeconds(1), time: time, queueTimeout: TimeSpan.FromSeconds(5));
        var buckets = Enumerable.Range(0, int.MaxValue).Select(i => $"{prefix}-{i}")
            .DistinctBy(id => StorageGroups.Default.Key(DevicePartitioner.PartitionOf(id, Partitions))).Take(2).ToArray();
        var sent = store.WriteStateAsync(StateName, Grain(buckets[0]), new GrainState<string>("sent"));
        await gated.UntilInFlight(1, ct);
        var queued = store.WriteStateAsync(StateName, Grain(buckets[1]), new GrainState<string>("queued"));
        return new QueuedWrite(gated, time, store, new DeviceRowStorage(inner, Partitions, Serializer, NullLogger<DeviceRowStorage>.Instance), buckets, sent, queued);
    }

    private sealed record QueuedWrite(GatedTableClient Gated, FakeTimeProvider Time, DeviceRowStorage Store, DeviceRowStorage Reader, string[] Buckets, Task Sent, Task Queued);

    [Fact(Timeout = 120_000)]
    public async Task When_storage_is_down_every_waiting_writer_answers_ServiceUnavailable_and_none_of_them_lands()
    {
        var ct = TestContext.Current.CancellationToken;
        var storage = await AzuriteServer.StartAsync(Directory.CreateTempSubdirectory("azurite-").FullName, ct);
        try
        {
            var table = "rowsdown" + Guid.NewGuid().ToString("N")[..8];
            var store = await NewStore(storage.ConnectionString, table);
            var bounded = new BoundedGrainStorage(store, new StorageTimeBound(TimeSpan.FromSeconds(30), NullLogger<StorageTimeBound>.Instance));
            var ids = SameBucket("rows-down", 100);

            await storage.StopAsync(ct);
            var outcomes = await WriteAll(bounded, ids.Select(id => (id, new GrainState<string>("never"))));

            Assert.All(outcomes, o => Assert.IsType<StorageUnavailableException>(o.Error));
            Assert.All(outcomes, o => Assert.Null(o.State.ETag));
            Assert.True(store.Requests < store.Writes, $"{store.Requests} requests for {store.Writes} writes: the waiting writers failed as a batch");

            storage = await storage.RestartAsync(ct);
            var reopened = await NewStore(storage.ConnectionString, table);
            foreach (var id in ids)
            {
                Assert.False((await Read(reopened, id)).RecordExists, id);
            }
        }
        finally
        {
            await storage.DisposeAsync();
        }
    }
}
