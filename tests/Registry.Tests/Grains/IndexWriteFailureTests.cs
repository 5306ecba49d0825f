using Registry.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Index;
using Registry.Host;

namespace Registry.Tests.Grains;

/// <summary>
/// An index partition writes only its changes, possibly as several transactions: a write that fails part-way must
/// acknowledge none of its changes and lose none acknowledged before, and the next write must make storage agree.
/// </summary>
public sealed class IndexWriteFailureTests : IClassFixture<FlakyRegistryClusterFixture>, IDisposable
{
    private const int Partition = 3;
    private readonly FlakyRegistryClusterFixture _fixture;

    public IndexWriteFailureTests(FlakyRegistryClusterFixture fixture)
    {
        _fixture = fixture;
        FlakyRegistryClusterFixture.IndexFaults.Reset();
    }

    public void Dispose() => FlakyRegistryClusterFixture.IndexFaults.Reset();

    private IDeviceIndexGrain Index => _fixture.Cluster.GrainFactory.GetGrain<IDeviceIndexGrain>(Partition);

    /// <summary>What the store itself holds (not the partition's memory), for the ids of this test.</summary>
    private async Task<string[]> Stored(IEnumerable<string> ids)
    {
        var store = ((InProcessSiloHandle)_fixture.Cluster.Primary!).SiloHost.Services.GetRequiredKeyedService<IIndexStore>(SiloConfiguration.IndexEntryStore);
        var mine = ids.ToHashSet();
        return (await store.Load(Partition)).Select(e => e.DeviceId).Where(mine.Contains).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Ids that hash to <see cref="Partition"/>, so one call writes them together.</summary>
    private static string[] IdsInPartition(string prefix, int count) =>
        Enumerable.Range(0, int.MaxValue).Select(i => $"{prefix}-{Guid.NewGuid():N}")
            .Where(id => DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions) == Partition).Take(count).ToArray();

    private static IndexEntry[] Enabled(IEnumerable<string> ids) => ids.Select(id => new IndexEntry(id, true)).ToArray();

    [Fact]
    public async Task An_add_that_fails_part_way_is_not_counted_keeps_what_was_acknowledged_and_the_next_write_clears_what_landed()
    {
        var acknowledged = IdsInPartition("ack", 5);
        var failed = IdsInPartition("half", 6);
        var next = IdsInPartition("next", 1);
        await Index.Upsert(Enabled(acknowledged));
        var before = await Index.Counts();

        FlakyRegistryClusterFixture.IndexFaults.FailNext(1, landThenThrow: true);
        await Assert.ThrowsAnyAsync<Exception>(() => Index.Upsert(Enabled(failed)));

        Assert.Equal(before, await Index.Counts());
        Assert.Equal(3, (await Stored(failed)).Length); // half of the write landed before it failed
        await Index.Upsert(Enabled(next));
        Assert.Equal(acknowledged.Concat(next).Order(StringComparer.Ordinal), await Stored(acknowledged.Concat(failed).Concat(next)));

        await Index.Remove(acknowledged.Concat(next).ToArray());
    }

    [Fact]
    public async Task An_add_whose_write_and_whose_restoring_write_both_fail_is_not_asked_of_storage_a_third_time()
    {
        var failedTwice = IdsInPartition("twice", 4);
        var second = IdsInPartition("second", 1);
        var third = IdsInPartition("third", 1);
        var before = await Index.Counts();

        FlakyRegistryClusterFixture.IndexFaults.FailNext(1);
        await Assert.ThrowsAnyAsync<Exception>(() => Index.Upsert(Enabled(failedTwice)));
        FlakyRegistryClusterFixture.IndexFaults.FailNext(1);
        await Assert.ThrowsAnyAsync<Exception>(() => Index.Upsert(Enabled(second))); // carries the removals restoring the first
        FlakyIndexStore.Asked.Clear();
        await Index.Upsert(Enabled(third));

        // Queued again after each failure, such removals piled up until every write of a partition took longer than the
        // storage timeout. Nothing of the first write landed; had it, the partition's next activation verifies it away.
        var asked = FlakyIndexStore.Asked.Select(c => c.DeviceId).ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain(asked, failedTwice.Contains);
        Assert.Contains(third[0], asked);
        Assert.Empty(await Stored(failedTwice));
        Assert.Equal(before.Enabled + 1, (await Index.Counts()).Enabled);

        await Index.Remove(third);
    }

    /// <summary>
    /// Holds the partition's write of a fresh id until <paramref name="gate"/> opens, and returns once that write has
    /// reached the store: changes made from then on queue behind it.
    /// </summary>
    private async Task<(string Id, Task Call)> HoldAWrite(Task gate)
    {
        var held = IdsInPartition("held", 1);
        var reached = FlakyIndexStore.HoldWritesCarrying(held[0], gate);
        var call = Index.Upsert(Enabled(held));
        await reached;
        return (held[0], call);
    }

    /// <summary>Waits (without a clock) until the partition holds <paramref name="enabled"/> enabled entries in memory.</summary>
    private Task UntilCounted(long enabled) => Until(counts => counts.Enabled >= enabled);

    /// <summary>Asks the partition's counts (in memory, written or not) until <paramref name="done"/> holds.</summary>
    private async Task Until(Func<IndexCounts, bool> done)
    {
        var token = TestContext.Current.CancellationToken;
        while (!done(await Index.Counts()))
        {
            token.ThrowIfCancellationRequested();
        }
    }

    [Fact]
    public async Task A_failed_partition_write_fails_at_most_one_transaction_of_callers_and_the_others_are_stored()
    {
        var ids = IdsInPartition("many", 300);
        var before = await Index.Counts();
        var gate = new TaskCompletionSource();
        var held = await HoldAWrite(gate.Task);
        // Once: every write carrying it would also fail the write its restoring removal joins, callers of another write.
        FlakyIndexStore.FailNextWriteCarrying(ids[^1]);
        try
        {
            // One call per id, as one create each: all of them queue behind the held write, then go together.
            var calls = ids.Select(id => (Id: id, Call: Index.Upsert(Enabled([id])))).ToArray();
            await UntilCounted(before.Enabled + 1 + ids.Length);
            gate.SetResult();
            await held.Call;
            await Assert.ThrowsAnyAsync<Exception>(() => Task.WhenAll(calls.Select(c => c.Call)));

            var failed = calls.Where(c => c.Call.IsFaulted).Select(c => c.Id).ToArray();
            var succeeded = calls.Where(c => c.Call.IsCompletedSuccessfully).Select(c => c.Id).Order(StringComparer.Ordinal).ToArray();
            Assert.Equal(ids.Length, failed.Length + succeeded.Length);
            Assert.Contains(ids[^1], failed);
            Assert.InRange(failed.Length, 1, TableIndexStore.MaxLeasedChanges);
            Assert.Equal(succeeded, await Stored(succeeded));
            Assert.Equal(before.Enabled + 1 + succeeded.Length, (await Index.Counts()).Enabled);
        }
        finally
        {
            gate.TrySetResult();
            FlakyIndexStore.StopFailing(ids[^1]);
        }
        await Index.Remove(ids.Append(held.Id).ToArray());
    }

    [Fact]
    public async Task A_call_that_changes_nothing_waits_for_the_write_in_flight_carrying_its_id_and_fails_with_it()
    {
        var id = IdsInPartition("inflight", 1)[0];
        var before = await Index.Counts();
        var gate = new TaskCompletionSource();
        var reached = FlakyIndexStore.HoldWritesCarrying(id, gate.Task);
        FlakyIndexStore.FailWritesCarrying(id);
        try
        {
            var first = Index.Upsert(Enabled([id]));
            await reached;
            // The entry already says so in memory, but it is not durable: a device row written now would break the superset.
            var same = Index.Upsert(Enabled([id]));
            await Index.Counts();
            Assert.False(same.IsCompleted);

            gate.SetResult();
            await Assert.ThrowsAnyAsync<Exception>(() => first);
            await Assert.ThrowsAnyAsync<Exception>(() => same);
            Assert.Equal(before, await Index.Counts());
        }
        finally
        {
            gate.TrySetResult();
            FlakyIndexStore.StopFailing(id);
        }
    }

    [Fact]
    public async Task A_change_superseded_before_its_write_completes_with_the_write_that_carries_the_later_change()
    {
        var id = IdsInPartition("superseded", 1)[0];
        var gate = new TaskCompletionSource();
        var held = await HoldAWrite(gate.Task);
        try
        {
            // The client's calls may reach the partition in any order: each is seen applied in memory before the next.
            var before = await Index.Counts();
            var add = Index.Upsert(Enabled([id]));
            await UntilCounted(before.Enabled + 1);
            var remove = Index.Remove([id]);
            await Until(counts => counts.Enabled == before.Enabled);
            Assert.False(add.IsCompleted);
            Assert.False(remove.IsCompleted);
            FlakyIndexStore.Asked.Clear();

            gate.SetResult();
            await add;
            await remove;
            Assert.Contains(FlakyIndexStore.Asked, c => c.DeviceId == id && c.Enabled is null);
            Assert.DoesNotContain(FlakyIndexStore.Asked, c => c.DeviceId == id && c.Enabled is not null);
            Assert.Empty(await Stored([id]));
        }
        finally
        {
            gate.TrySetResult();
        }
        await held.Call;
        await Index.Remove([held.Id]);
    }

    [Fact]
    public async Task A_removal_that_fails_part_way_keeps_every_entry_counted_until_a_write_removes_them()
    {
        var ids = IdsInPartition("rm", 6);
        await Index.Upsert(Enabled(ids));
        var before = await Index.Counts();

        FlakyRegistryClusterFixture.IndexFaults.FailNext(1, landThenThrow: true);
        await Assert.ThrowsAnyAsync<Exception>(() => Index.Remove(ids));

        Assert.Equal(before, await Index.Counts());
        Assert.Equal(3, (await Stored(ids)).Length);
        // The storage holds fewer than the partition counts: the index, in memory, is still a superset of it.
        await Index.Remove(ids);
        Assert.Empty(await Stored(ids));
        Assert.Equal(before.Enabled - ids.Length, (await Index.Counts()).Enabled);
    }

    [Fact(Timeout = 60_000)]
    public async Task An_activation_whose_partition_another_activation_has_loaded_refuses_its_writes_with_503_and_goes_and_the_retry_is_stored_and_listed()
    {
        // A partition of its own: the partition's next activation verifies what it loads, and these entries have no devices.
        const int partition = Partition + 1;
        var token = TestContext.Current.CancellationToken;
        var index = _fixture.Cluster.GrainFactory.GetGrain<IDeviceIndexGrain>(partition);
        string[] InPartition(string prefix) => [Enumerable.Range(0, int.MaxValue).Select(i => $"{prefix}-{Guid.NewGuid():N}")
            .First(id => DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions) == partition)];
        var before = InPartition("lease-before");
        var late = InPartition("lease-late");
        await index.Upsert(Enabled(before));
        var store = ((InProcessSiloHandle)_fixture.Cluster.Primary!).SiloHost.Services.GetRequiredKeyedService<IIndexStore>(SiloConfiguration.IndexEntryStore);
        async Task<string[]> StoredHere(string[] ids) =>
            (await store.Load(partition)).Select(e => e.DeviceId).Where(ids.Contains).ToArray();

        // Another activation of the partition loads it while this one still runs, as after a silo that held this one's
        // grain directory registration died: what it loaded is all it will hold.
        var takenOver = (await store.Load(partition, new IndexLease())).Select(e => e.DeviceId).ToHashSet(StringComparer.Ordinal);
        Assert.Contains(before[0], takenOver);

        // Acknowledged here, this entry would be missing from the other activation (listing, statistics, absence check).
        await Assert.ThrowsAsync<StorageUnavailableException>(() => index.Upsert(Enabled(late)));
        Assert.Empty(await StoredHere(late));
        // Not shown meanwhile either: the stale activation refuses reads (503) until it has gone, the next one never had it.
        try
        {
            Assert.DoesNotContain(late[0], (await index.Page(null, 1000)).Entries.Select(e => e.DeviceId));
        }
        catch (StorageUnavailableException)
        {
        }

        // The stale activation goes; a retry reaches an activation that loaded the partition afresh.
        while (true)
        {
            try
            {
                await index.Upsert(Enabled(late));
                break;
            }
            catch (StorageUnavailableException)
            {
                token.ThrowIfCancellationRequested();
            }
        }
        Assert.Equal(late, await StoredHere(late));
        Assert.Contains(late[0], (await index.Page(null, 1000)).Entries.Select(e => e.DeviceId));

        await index.Remove(before.Concat(late).ToArray());
        Assert.Empty(await StoredHere(before.Concat(late).ToArray()));
    }
}
