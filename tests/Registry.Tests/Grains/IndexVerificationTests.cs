using Orleans.Core.Internal;
using Registry.Abstractions;
using Registry.Grains.Index;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Grains;

/// <summary>
/// Phantoms left by a crash (an index entry written, the device write never made) leave the statistics by themselves:
/// a partition verifies what it loaded from storage when it activates, without anyone listing.
/// </summary>
public sealed class IndexVerificationTests(RegistryClusterFixture fixture) : IClassFixture<RegistryClusterFixture>
{
    private IDeviceIndexGrain Partition(string id) =>
        fixture.Grains.GetGrain<IDeviceIndexGrain>(DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions));

    /// <summary>Drops the partition's activation, as a restart does, then waits for the new activation's verification pass.</summary>
    private async Task RestartPartitionOf(string id)
    {
        var partition = Partition(id);
        await partition.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await fixture.Grains.GetGrain<IIndexVerification>(partition.GetPrimaryKeyLong()).WhenVerified();
    }

    [Fact]
    public async Task A_phantom_entry_leaves_the_statistics_when_its_partition_restarts_without_any_listing()
    {
        var phantom = NewId("phantom");
        var real = NewId("real");
        await fixture.Device(real).Create(Sas(real));
        var before = await fixture.Registry.GetStatistics();
        // What a kill -9 between the index write and the device write leaves: an entry with no device behind it.
        await Partition(phantom).Upsert([new IndexEntry(phantom, true)]);
        Assert.Equal(before.TotalDeviceCount + 1, (await fixture.Registry.GetStatistics()).TotalDeviceCount);

        await RestartPartitionOf(phantom);
        await RestartPartitionOf(real);

        Assert.Equal(before, await fixture.Registry.GetStatistics());
        Assert.NotNull(await fixture.Device(real).Get());
    }

    [Fact]
    public async Task A_stale_status_flag_is_corrected_when_its_partition_restarts_without_any_listing()
    {
        var id = NewId("stale");
        await fixture.Device(id).Create(Sas(id));
        var before = await fixture.Registry.GetStatistics();
        // A status change whose device write never landed: the index already counts the device as disabled.
        await Partition(id).Upsert([new IndexEntry(id, false)]);
        Assert.Equal(before.DisabledDeviceCount + 1, (await fixture.Registry.GetStatistics()).DisabledDeviceCount);

        await RestartPartitionOf(id);

        Assert.Equal(before, await fixture.Registry.GetStatistics());
    }
}
