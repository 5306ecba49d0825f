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

    /// <summary>
    /// Found by a hostile re-check, 2026-12-04: the pass deactivated every device it reached, so a partition activated anew
    /// (a restart, or the failure of the silo that held it) dropped the devices of that partition that were in use on the
    /// surviving silos: an open session counted as disconnected, and a heartbeat the monitor was judging was lost, which
    /// delayed a missed alert by a deadline. Only activations the pass itself started go.
    /// </summary>
    [Fact]
    public async Task A_device_in_use_when_its_partition_restarts_keeps_its_activation_and_its_session()
    {
        var connected = NewId("in-use");
        await fixture.Device(connected).Create(Sas(connected));
        var session = new DeviceSession(Guid.NewGuid(), null, null);
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(connected).Connect(session));

        await RestartPartitionOf(connected);

        // A new activation would know no session: its messages would be refused and the device shown disconnected.
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(connected).Message(new DeviceMessage(DeviceTransport.Mqtt, session.SessionId, null, 1)));
        Assert.Equal(DeviceConnectionState.Connected, (await fixture.Device(connected).Get())!.ConnectionState);
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
