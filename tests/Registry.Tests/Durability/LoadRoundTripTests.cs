using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Registry.Abstractions;
using Registry.Grains.Index;
using Registry.Host;

namespace Registry.Tests.Durability;

/// <summary>
/// A partition's load (an index or heartbeat-monitor partition's claim and range query) against storage that has stopped
/// answering: each round trip waits the storage timeout at most (<see cref="RoundTripBound"/>). On a fake clock.
/// </summary>
public sealed class LoadRoundTripTests
{
    private static readonly TimeSpan StorageTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Found by a hostile review (2026-12-04): right after a restart, with storage hung, every device request (whose
    /// partition had to load) waited out the silo's 30 s response timeout, while on a warm host the same hang answered 503
    /// in 5 s. A load's claim and each page of its query now answer within the storage timeout, or 503 says so.
    /// </summary>
    [Theory(Timeout = 30_000)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_load_whose_storage_stops_answering_answers_ServiceUnavailable_once_a_round_trip_waited_the_storage_timeout(bool leased)
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider();
        var silent = new SilentTableClient();
        var bound = new StorageTimeBound(StorageTimeout, NullLogger<StorageTimeBound>.Instance, time: time);
        var store = new BoundedIndexStore(new TableIndexStore(silent, time: time, roundTrip: StorageTimeout), bound);

        var load = store.Load(7, leased ? new IndexLease() : null);
        Assert.Equal(1, silent.Asked);
        await EndsAtTheStorageTimeout(load, time, silent, ct);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_heartbeat_monitor_partitions_load_whose_storage_stops_answering_ends_once_a_page_waited_the_storage_timeout()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider();
        var silent = new SilentTableClient();
        var bound = new StorageTimeBound(StorageTimeout, NullLogger<StorageTimeBound>.Instance, time: time);
        var store = new BoundedHeartbeatStore(new TableHeartbeatStore(silent, StorageTimeout, time), bound);

        await EndsAtTheStorageTimeout(store.Load(3), time, silent, ct);
    }

    /// <summary>The load is still waiting just before the storage timeout and answers 503 at it, having sent one request.</summary>
    private static async Task EndsAtTheStorageTimeout(Task load, FakeTimeProvider time, SilentTableClient silent, CancellationToken ct)
    {
        time.Advance(StorageTimeout - TimeSpan.FromMilliseconds(100));
        Assert.False(load.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(100));

        var refused = await Assert.ThrowsAsync<StorageUnavailableException>(() => load.WaitAsync(ct));
        Assert.Equal("Storage did not answer within 5 s. Retry later.", refused.Message);
        Assert.Equal(1, silent.Asked);
    }
}
