using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Placement;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Devices;
using Registry.Host;
using Registry.Tests.Infrastructure;
using Registry.Tests.Jobs;

namespace Registry.Tests.Durability;

/// <summary>
/// A listing of batched device rows (two silos on Azurite) reads the devices no silo has active from their stored rows and
/// persisted presence, a range query of each per page, instead of activating each one (a storage read per device: tens of
/// minutes for a cold million). What it shows is what the device's grain shows; a device active on either silo is read
/// through its grain, so activity not yet persisted is shown at once; a phantom entry or a stale status flag goes to its
/// device's grain, which drops or corrects it.
/// </summary>
[Collection(nameof(JobCluster))]
public sealed class ColdListingTests(AzuriteFixture azurite)
{
    private const int Partitions = 2;

    [Fact(Timeout = 180_000)]
    public async Task A_listing_reads_idle_devices_by_range_without_a_device_read_shows_what_their_grains_show_and_reads_active_ones_through_their_grains()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await JobCluster.DeployAsync(azurite, new ChunkProbe(), _ => { }, deviceStorage: "Batched", partitions: Partitions);
        var grains = cluster.Grains;
        // Two ids whose RowKeys are escaped ('?' and '#' are not allowed in a RowKey): read by range as well.
        var ids = Enumerable.Range(0, 24).Select(i => $"cold-{i:D2}").Concat(["cold-#h", "cold-?q"]).ToArray();
        var disabled = ids.Where((_, i) => i % 6 == 0).ToHashSet();
        foreach (var id in ids)
        {
            await grains.GetGrain<IDeviceGrain>(id).Create(new DeviceIdentityInput
            {
                DeviceId = id,
                Status = disabled.Contains(id) ? DeviceStatus.Disabled : DeviceStatus.Enabled,
            });
        }
        var beaten = ids.Where(id => !disabled.Contains(id)).ToArray();
        foreach (var id in beaten)
        {
            Assert.Equal(DeviceAccess.Granted, await grains.GetGrain<IDeviceGrain>(id).Heartbeat());
        }
        // Every device goes idle; each writes its presence on the way out.
        var management = grains.GetGrain<IManagementGrain>(0);
        await management.ForceActivationCollection(TimeSpan.Zero);
        Assert.Equal(0, Silos(cluster).Sum(s => s.GetRequiredService<ActiveDevices>().Count));

        // Devices beaten again, on both silos (asked by placement hint; an activation may still land elsewhere, so where
        // each did is read): their activity now is newer than what was persisted.
        var silos = cluster.Cluster.Silos.Select(s => s.SiloAddress).ToArray();
        var fresh = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        var freshOn = new Dictionary<SiloAddress, int>();
        foreach (var (id, i) in beaten.SkipLast(2).Select((id, i) => (id, i)))
        {
            var grain = grains.GetGrain<IDeviceGrain>(id);
            RequestContext.Set(IPlacementDirector.PlacementHintKey, silos[i % 2]);
            Assert.Equal(DeviceAccess.Granted, await grain.Heartbeat());
            RequestContext.Clear();
            var on = await cluster.SiloOfAsync(grain);
            freshOn[on] = freshOn.GetValueOrDefault(on) + 1;
            fresh[id] = (await grain.Get())!.LastActivityTime;
            if (freshOn.Count == 2 && freshOn.Values.All(n => n >= 2))
            {
                break;
            }
        }
        Assert.Equal(2, freshOn.Count);
        Assert.True(fresh.Count < beaten.Length - 2, "some enabled devices stay idle");

        // What a crash between an index write and a device write leaves: an entry with no row, and a stale status flag.
        const string phantom = "cold-phantom";
        var stale = beaten[^2];
        Assert.DoesNotContain(stale, fresh.Keys);
        await grains.GetGrain<IDeviceIndexGrain>(DevicePartitioner.PartitionOf(phantom, Partitions)).Upsert([new IndexEntry(phantom, true)]);
        await grains.GetGrain<IDeviceIndexGrain>(DevicePartitioner.PartitionOf(stale, Partitions)).Upsert([new IndexEntry(stale, false)]);

        var readsBefore = Silos(cluster).Sum(s => s.GetRequiredService<DeviceRowStorage>().Reads);
        var listed = new List<DeviceIdentity>();
        string? continuation = null;
        do
        {
            var page = await grains.GetGrain<IDeviceRegistryGrain>(0).List(5, continuation);
            listed.AddRange(page.Devices);
            continuation = page.Continuation;
        }
        while (continuation is not null);

        // Two rows were read one at a time, each by its device's grain and again after its repair: the phantom's (none) and
        // the stale flag's. The idle devices' rows came by range; the active ones' grains had theirs.
        Assert.Equal(4, Silos(cluster).Sum(s => s.GetRequiredService<DeviceRowStorage>().Reads) - readsBefore);
        Assert.Equal(ids.Order(StringComparer.Ordinal), listed.Select(d => d.DeviceId).Order(StringComparer.Ordinal));
        foreach (var (id, activity) in fresh)
        {
            Assert.Equal(activity, listed.Single(d => d.DeviceId == id).LastActivityTime);
        }
        foreach (var device in listed)
        {
            var shown = await grains.GetGrain<IDeviceGrain>(device.DeviceId).Get();
            Assert.Equal(JsonSerializer.Serialize(shown), JsonSerializer.Serialize(device));
            Assert.Equal(!disabled.Contains(device.DeviceId), device.LastActivityTime != default);
        }
        var statistics = await grains.GetGrain<IDeviceRegistryGrain>(0).GetStatistics();
        Assert.Equal((ids.Length, disabled.Count), (statistics.TotalDeviceCount, statistics.DisabledDeviceCount));
    }

    private static IEnumerable<IServiceProvider> Silos(JobCluster cluster) =>
        cluster.Cluster.Silos.Cast<InProcessSiloHandle>().Select(s => s.SiloHost.Services);
}
