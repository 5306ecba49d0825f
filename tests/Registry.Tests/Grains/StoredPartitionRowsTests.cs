using System.Runtime.CompilerServices;
using Registry.Abstractions;
using Registry.Grains.Devices;
using Registry.Grains.Index;

namespace Registry.Tests.Grains;

/// <summary>
/// The scans a verification pass reads stored rows by: partitions of one storage group share a scan in flight, but never
/// one that started before they began loading their entries (it could confirm an entry whose device was deleted since).
/// </summary>
public sealed class StoredPartitionRowsTests
{
    /// <summary>Two storage groups of two partitions each; while <see cref="Hold"/>, each group scan waits for <see cref="Release"/>.</summary>
    private sealed class HeldScan : IDevicePartitionScan
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly SemaphoreSlim _started = new(0);

        public List<DeviceIdentity> Stored { get; } = [];

        public int Started;

        public bool Hold { get; set; }

        public Exception? Failure { get; set; }

        public void Release() => _release.TrySetResult();

        /// <summary>Once one more group scan has read what storage holds.</summary>
        public Task NextStarted(CancellationToken ct) => _started.WaitAsync(ct);

        public IReadOnlyList<IReadOnlyList<int>> Groups(int partitions) => [[0, 2], [1, 3]];

        public IAsyncEnumerable<DeviceIdentity> Scan(int partition, CancellationToken cancellation = default) => throw new NotSupportedException();

        public Task<IReadOnlyDictionary<string, DeviceIdentity>> ReadMany(int partition, IReadOnlyCollection<string> deviceIds, CancellationToken cancellation = default) =>
            throw new NotSupportedException();

        public async IAsyncEnumerable<(int Partition, DeviceIdentity Device)> ScanGroup(IReadOnlyList<int> group, [EnumeratorCancellation] CancellationToken cancellation = default)
        {
            Interlocked.Increment(ref Started);
            // What storage holds when the scan starts reading.
            var rows = Stored.ToArray();
            _started.Release();
            if (Hold)
            {
                await _release.Task.WaitAsync(cancellation);
            }
            if (Failure is { } failure)
            {
                throw failure;
            }
            foreach (var device in rows)
            {
                var partition = DevicePartitioner.PartitionOf(device.DeviceId, 4);
                if (group.Contains(partition))
                {
                    yield return (partition, device);
                }
            }
        }
    }

    private static DeviceIdentity Device(string id, DeviceStatus status = DeviceStatus.Enabled) => new()
    {
        DeviceId = id,
        GenerationId = "1",
        ETag = "\"1\"",
        Status = status,
        Authentication = new AuthenticationMechanism(AuthenticationType.Sas, null, null),
    };

    /// <summary>An id of <paramref name="partition"/> (of 4), by its stable hash.</summary>
    private static string IdIn(int partition, string prefix) =>
        Enumerable.Range(0, 1000).Select(i => $"{prefix}-{i}").First(id => DevicePartitioner.PartitionOf(id, 4) == partition);

    [Fact(Timeout = 30_000)]
    public async Task Partitions_of_one_group_that_began_loading_before_its_scan_share_it_and_each_gets_its_own_rows()
    {
        var ct = TestContext.Current.CancellationToken;
        var storage = new HeldScan { Hold = true };
        var (a, b) = (IdIn(0, "a"), IdIn(2, "b"));
        storage.Stored.AddRange([Device(a), Device(b, DeviceStatus.Disabled), Device(IdIn(1, "other"))]);
        using var slots = new IndexVerificationSlots(4);
        var rows = new StoredPartitionRows(storage, 4, slots);

        var (loadedFirst, loadedSecond) = (rows.Mark(), rows.Mark());
        var first = rows.Of(0, loadedFirst);
        var second = rows.Of(2, loadedSecond);
        storage.Release();

        Assert.Equal(new Dictionary<string, bool> { [a] = true }, await first.WaitAsync(ct));
        Assert.Equal(new Dictionary<string, bool> { [b] = false }, await second.WaitAsync(ct));
        Assert.Equal(1, storage.Started);
        Assert.Equal(1, rows.Scans);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_partition_that_began_loading_after_a_scan_started_gets_a_scan_of_its_own_that_sees_what_was_stored_since()
    {
        var ct = TestContext.Current.CancellationToken;
        var storage = new HeldScan { Hold = true };
        var (before, since) = (IdIn(0, "before"), IdIn(2, "since"));
        storage.Stored.Add(Device(before));
        using var slots = new IndexVerificationSlots(4);
        var rows = new StoredPartitionRows(storage, 4, slots);

        var early = rows.Of(0, rows.Mark());
        await storage.NextStarted(ct);
        storage.Stored.Add(Device(since));
        var late = rows.Of(2, rows.Mark());
        await storage.NextStarted(ct);
        storage.Release();

        Assert.Equal(new[] { before }, (await early.WaitAsync(ct)).Keys);
        Assert.Equal(new[] { since }, (await late.WaitAsync(ct)).Keys);
        Assert.Equal(2, rows.Scans);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_scan_that_fails_fails_every_partition_waiting_for_it_and_the_next_asks_storage_again()
    {
        var ct = TestContext.Current.CancellationToken;
        var storage = new HeldScan { Hold = true, Failure = new StorageUnavailableException("Storage did not answer within 5 s. Retry later.") };
        var stored = IdIn(0, "x");
        storage.Stored.Add(Device(stored));
        using var slots = new IndexVerificationSlots(4);
        var rows = new StoredPartitionRows(storage, 4, slots);

        var mark = rows.Mark();
        var waiting = new[] { rows.Of(0, mark), rows.Of(2, mark) };
        storage.Release();
        foreach (var partition in waiting)
        {
            await Assert.ThrowsAsync<StorageUnavailableException>(() => partition.WaitAsync(ct));
        }

        storage.Failure = null;
        storage.Hold = false;
        Assert.Equal(new[] { stored }, (await rows.Of(0, mark).WaitAsync(ct)).Keys);
        Assert.Equal(2, storage.Started);
    }
}
