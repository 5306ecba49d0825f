using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Core.Internal;
using Orleans.Storage;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains;
using Registry.Grains.Index;
using Registry.Grains.Storage;
using Registry.Host;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Grains;

/// <summary>
/// Device writes whose answer timed out and that land after the device's read-back found nothing: the index is still a
/// superset of what storage holds once the write can no longer land (<see cref="RegistryIndexOptions.WriteSettleTime"/>),
/// and the device answers as stored at once. The partitions' clock is the test's, so "once settled" is a step of it.
/// </summary>
public sealed class LateLandingTests(LateLandingTests.Fixture fixture) : IClassFixture<LateLandingTests.Fixture>, IDisposable
{
    private IGrainFactory Grains => fixture.Cluster.GrainFactory;

    public void Dispose() => Fixture.DeviceFaults.Reset();

    private IDeviceGrain Device(string id) => Grains.GetGrain<IDeviceGrain>(id);

    private Task<RegistryStatistics> Statistics() => Grains.GetGrain<IDeviceRegistryGrain>(0).GetStatistics();

    private Task<bool> MayHold(string id) =>
        Grains.GetGrain<IIndexLookup>(DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions)).Contains(id);

    private async Task<bool> Listed(string id)
    {
        string? continuation = null;
        do
        {
            var page = await Grains.GetGrain<IDeviceRegistryGrain>(0).List(1000, continuation);
            if (page.Devices.Any(d => d.DeviceId == id))
            {
                return true;
            }
            continuation = page.Continuation;
        }
        while (continuation is not null);
        return false;
    }

    /// <summary>Past the settle time and one tick of the partition's checks: what the partition does then is awaited by polling it.</summary>
    private void PassSettleTime() => fixture.Clock.Advance(Fixture.SettleTime + Fixture.RepairInterval);

    private static async Task Until(Func<Task<bool>> condition)
    {
        var ct = TestContext.Current.CancellationToken;
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(ct);
        guard.CancelAfter(Signals.Guard);
        while (!await condition())
        {
            await Task.Delay(20, guard.Token);
        }
    }

    /// <summary>
    /// Before: the read-back found no row and took the entry out; the write landing after it left a stored device that no
    /// GET, listing or count saw (only a later create of the id, answered 409, brought it back). A review under a 0.3 s
    /// storage timeout found 8 of 38 such devices (2026-12-07).
    /// </summary>
    [Fact]
    public async Task A_create_whose_timed_out_write_lands_after_its_read_back_is_read_at_once_and_listed_and_counted_once_settled()
    {
        var id = NewId("latecreate");
        var before = await Statistics();
        Fixture.DeviceFaults.LandNextWriteLate();
        await Assert.ThrowsAnyAsync<Exception>(() => Device(id).Create(Sas(id)));
        await Fixture.DeviceFaults.LandLateWriteAsync();

        Assert.NotNull(await Device(id).Get());

        PassSettleTime();
        await Until(() => Listed(id));
        Assert.Equal(before.TotalDeviceCount + 1, (await Statistics()).TotalDeviceCount);
        Assert.NotNull(await Device(id).Get());
    }

    /// <summary>Before: the row was gone and its entry stayed, counted, until a listing happened to meet it.</summary>
    [Fact]
    public async Task A_delete_whose_timed_out_clear_lands_after_its_read_back_is_no_longer_counted_once_settled()
    {
        var id = NewId("latedelete");
        await Device(id).Create(Sas(id));
        var before = await Statistics();
        Fixture.DeviceFaults.LandNextWriteLate();
        await Assert.ThrowsAnyAsync<Exception>(() => Device(id).Delete(ETagCondition.Any));
        await Fixture.DeviceFaults.LandLateWriteAsync();

        Assert.Null(await Device(id).Get());

        PassSettleTime();
        await Until(async () => (await Statistics()).TotalDeviceCount == before.TotalDeviceCount - 1);
        Assert.False(await Listed(id));
    }

    /// <summary>
    /// The partition restarts between the read-back and the landing, inside the settle time. Before: the partition kept
    /// the id as unsettled in its memory only, so its next activation held neither entry nor doubt; the device, read by a
    /// new activation, took itself for absent, and the write that landed was a device no listing or count saw, for good
    /// (README Known limits, "Stored devices missing from the index after a write that landed late", on Table rows).
    /// </summary>
    [Fact]
    public async Task A_create_whose_timed_out_write_lands_after_its_partition_restarted_within_the_settle_time_is_listed_and_counted_once_settled()
    {
        var id = NewId("laterestart");
        var before = await Statistics();
        Fixture.DeviceFaults.LandNextWriteLate();
        await Assert.ThrowsAnyAsync<Exception>(() => Device(id).Create(Sas(id)));
        await RestartPartitionOf(id);

        Assert.True(await MayHold(id), "the restarted partition lost the doubt about a write that may still land");
        await Fixture.DeviceFaults.LandLateWriteAsync();
        await Device(id).Cast<IGrainManagementExtension>().DeactivateOnIdle();
        Assert.NotNull(await Device(id).Get());

        PassSettleTime();
        await Until(() => Listed(id));
        Assert.Equal(before.TotalDeviceCount + 1, (await Statistics()).TotalDeviceCount);
        // Settled: the partition's stored mark is gone with its doubt, and what is left is the entry.
        await RestartPartitionOf(id);
        Assert.True(await Listed(id));
    }

    /// <summary>The same restart when the write never lands: the mark, then the doubt, then nothing is left.</summary>
    [Fact]
    public async Task A_create_whose_timed_out_write_never_lands_leaves_nothing_once_settled_even_across_a_partition_restart()
    {
        var id = NewId("neverrestart");
        var before = await Statistics();
        Fixture.DeviceFaults.LandNextWriteLate();
        await Assert.ThrowsAnyAsync<Exception>(() => Device(id).Create(Sas(id)));
        await RestartPartitionOf(id);
        Assert.True(await MayHold(id), "the restarted partition lost the doubt about a write that may still land");

        PassSettleTime();
        await Until(async () => !await MayHold(id));
        await RestartPartitionOf(id);
        Assert.False(await MayHold(id), "a settled id's mark was left in storage");
        Assert.Equal(before, await Statistics());
        Assert.Null(await Device(id).Get());
    }

    /// <summary>The device's index partition deactivates; the next call loads it from storage again, as after a restart.</summary>
    private async Task RestartPartitionOf(string id)
    {
        var partition = DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions);
        await Grains.GetGrain<IDeviceIndexGrain>(partition).Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await Grains.GetGrain<IIndexVerification>(partition).WhenVerified();
    }

    /// <summary>The other outcome: the write never lands, and once settled nothing of it is left, not even the partition's doubt.</summary>
    [Fact]
    public async Task A_create_whose_timed_out_write_never_lands_leaves_nothing_once_settled()
    {
        var id = NewId("neverlands");
        var before = await Statistics();
        Fixture.DeviceFaults.LandNextWriteLate();
        await Assert.ThrowsAnyAsync<Exception>(() => Device(id).Create(Sas(id)));

        Assert.Null(await Device(id).Get());
        Assert.True(await MayHold(id), "the partition gave up on a write that may still land");

        PassSettleTime();
        await Until(async () => !await MayHold(id));
        Assert.Equal(before, await Statistics());
        Assert.False(await Listed(id));
        Assert.Null(await Device(id).Get());
    }

    /// <summary>
    /// A create that meets a row it did not expect (here a late write landing even after its partition settled it), and
    /// whose read-back cannot reach storage either: whether the device exists is not known, so it answers 503
    /// ServiceUnavailable, which an import applies again, instead of the storage conflict escaping as 500001 ServerError
    /// (an import of 100,000 lines with a silo killed logged one such line, 2026-12-03). In FailedWriteTests until the
    /// partition kept a failed write's id unsettled: a retry within the settle time reads storage first and meets no conflict.
    /// </summary>
    [Fact]
    public async Task A_create_meeting_a_row_it_did_not_expect_answers_service_unavailable_when_its_read_back_fails_too()
    {
        var id = NewId("lateunread");
        Fixture.DeviceFaults.LandNextWriteLate();
        await Assert.ThrowsAnyAsync<Exception>(() => Device(id).Create(Sas(id)));
        PassSettleTime();
        await Until(async () => !await MayHold(id));
        await Fixture.DeviceFaults.LandLateWriteAsync();
        Fixture.DeviceFaults.FailNextReads(1);

        await Assert.ThrowsAsync<StorageUnavailableException>(() => Device(id).Create(Sas(id)));

        // Once storage answers, the device is there and a create says so.
        var again = await Assert.ThrowsAsync<RegistryException>(() => Device(id).Create(Sas(id)));
        Assert.Equal(RegistryErrorCode.DeviceAlreadyExists, again.Code);
    }

    /// <summary>
    /// A two-silo cluster whose device storage lands writes late on demand (faults of its own, not shared with the other
    /// flaky clusters), with the registry clock and grain timers on a <see cref="FakeTimeProvider"/>.
    /// </summary>
    public sealed class Fixture() : ClockedClusterFixture<Fixture.Configurator>("late")
    {
        public static readonly TimeSpan SettleTime = TimeSpan.FromMinutes(1);

        public static readonly TimeSpan RepairInterval = TimeSpan.FromSeconds(10);

        public static readonly StorageFaults DeviceFaults = new();

        public sealed class Configurator : ISiloConfigurator
        {
            public void Configure(ISiloBuilder silo)
            {
                ClusterClock.Use(silo);
                // Registered before the registry's own (which only TryAdds), so the grains write through the faults.
                silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Registry, (sp, _) => new FlakyGrainStorage(
                    new KeyEscapingGrainStorage(sp.GetRequiredKeyedService<IGrainStorage>(SiloConfiguration.DeviceStore)), DeviceFaults,
                    sp.GetRequiredService<Orleans.Serialization.DeepCopier>()));
                SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = RegistryClusterFixture.Partitions });
                silo.Services.Configure<RegistryIndexOptions>(o =>
                {
                    o.RepairInterval = RepairInterval;
                    o.WriteSettleTime = SettleTime;
                });
            }
        }
    }
}
