using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Devices;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Presence;

/// <summary>
/// <c>connectedDeviceCount</c> counted from the device grains' own connection transitions on a two-silo cluster: exact
/// when no transition is in flight, and without the devices of a silo that left.
/// </summary>
public sealed class ConnectedDeviceCountTests
{
    [Fact]
    public async Task The_count_follows_connects_disconnects_replacements_deletes_and_disables_exactly()
    {
        await using var cluster = await StartAsync();
        var ids = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            var id = NewId("count");
            await cluster.Device(id).Create(Sas(id));
            ids.Add(id);
        }
        var sessions = new Dictionary<string, Guid>();
        foreach (var id in ids)
        {
            sessions[id] = Guid.NewGuid();
            Assert.Equal(DeviceAccess.Granted, await cluster.Device(id).Connect(new DeviceSession(sessions[id], null, null)));
        }
        Assert.Equal(12, await Count(cluster));

        await cluster.Device(ids[0]).Connect(new DeviceSession(Guid.NewGuid(), null, null)); // a replacement: still one
        await cluster.Device(ids[1]).Disconnect(sessions[ids[1]]);
        await cluster.Device(ids[1]).Disconnect(sessions[ids[1]]); // twice: no second transition
        await cluster.Device(ids[2]).Disconnect(Guid.NewGuid()); // not its session
        await cluster.Device(ids[3]).Delete(ETagCondition.Any);
        await cluster.Device(ids[4]).Update(Sas(ids[4], DeviceStatus.Disabled), ETagCondition.Any);
        await cluster.Device(ids[5]).Heartbeat(); // messages are not transitions

        Assert.Equal(9, await Count(cluster));
        Assert.Equal(9, Silos(cluster).Sum(s => s.GetRequiredService<ConnectedDevices>().Count));
    }

    [Fact]
    public async Task A_silo_that_leaves_takes_the_sessions_of_its_device_grains_out_of_the_count()
    {
        await using var cluster = await StartAsync();
        for (var i = 0; i < 20; i++)
        {
            var id = NewId("leave");
            await cluster.Device(id).Create(Sas(id));
            await cluster.Device(id).Connect(new DeviceSession(Guid.NewGuid(), null, null));
        }
        Assert.Equal(20, await Count(cluster));
        var primary = ((InProcessSiloHandle)cluster.Cluster.Primary!).SiloHost.Services.GetRequiredService<ConnectedDevices>();
        var staying = primary.Count;

        await cluster.Cluster.StopSiloAsync(cluster.Cluster.SecondarySilos[0]);
        // What the refresh does every ConnectedDevices.RefreshInterval: brings back the count if the count grain moved.
        await primary.ReportNowAsync();

        Assert.Equal(staying, await Count(cluster));
    }

    /// <summary>
    /// Hostile review, stop 31: a device silent longer than the device grains' idle age (keep-alive 0, or longer than
    /// <c>Registry:DeviceIdleMinutes</c>) had its grain collected with its session open: counted disconnected, and a
    /// disable could no longer close its connection. Orleans' own collection pass is run here at age zero.
    /// </summary>
    [Fact]
    public async Task A_device_grain_holding_an_open_session_is_not_collected_when_idle_and_is_again_once_disconnected()
    {
        await using var cluster = await StartAsync();
        var (connected, idle) = (NewId("held"), NewId("idle"));
        await cluster.Device(connected).Create(Sas(connected));
        await cluster.Device(idle).Create(Sas(idle));
        var session = Guid.NewGuid();
        Assert.Equal(DeviceAccess.Granted, await cluster.Device(connected).Connect(new DeviceSession(session, null, null)));
        var management = cluster.Grains.GetGrain<IManagementGrain>(0);

        await management.ForceActivationCollection(TimeSpan.Zero);

        Assert.Equal(1, await DeviceActivations(management)); // the idle one went, the connected one stayed
        Assert.Equal(1, await Count(cluster));
        Assert.Equal(1, Silos(cluster).Sum(s => s.GetRequiredService<ConnectedDevices>().Count));

        await cluster.Device(connected).Disconnect(session);
        await management.ForceActivationCollection(TimeSpan.Zero);

        Assert.Equal(0, await DeviceActivations(management));
        Assert.Equal(0, await Count(cluster));
    }

    /// <summary>
    /// The in-memory presence store lives in the silos: a silo stopped cleanly while another is active still writes its
    /// devices' presence there (only the last silo's stop skips it, MemoryModeStopTests), and the writes succeed (the
    /// counts move only for a write the store answered). What a memory-mode silo held itself, identities included, goes
    /// with it: the embedded mode is one process, or a test cluster.
    /// </summary>
    [Fact]
    public async Task A_silo_stopped_cleanly_while_another_is_active_writes_its_devices_presence_to_the_in_memory_store()
    {
        await using var cluster = await StartAsync();
        var ids = Enumerable.Range(0, 20).Select(_ => NewId("kept")).ToList();
        foreach (var id in ids)
        {
            await cluster.Device(id).Create(Sas(id));
        }
        cluster.Clock.Advance(TimeSpan.FromSeconds(10)); // within the write interval (60 s): no timed write has run
        foreach (var id in ids)
        {
            Assert.Equal(DeviceAccess.Granted, await cluster.Device(id).Heartbeat());
        }
        var secondary = ((InProcessSiloHandle)cluster.Cluster.SecondarySilos[0]).SiloHost.Services.GetRequiredService<PresenceWriter>();
        Assert.Equal(0, secondary.RecordsWritten);

        await cluster.Cluster.StopSiloAsync(cluster.Cluster.SecondarySilos[0]);

        Assert.True(secondary.RecordsWritten > 0, "no device of the 20 had its grain on the stopped silo, or its writes failed");
        Assert.InRange(secondary.Writes, 1, secondary.RecordsWritten);
    }

    private static async Task<int> DeviceActivations(IManagementGrain management) =>
        (await management.GetSimpleGrainStatistics())
            .Where(s => s.GrainType.Contains(nameof(DeviceGrain), StringComparison.Ordinal))
            .Sum(s => s.ActivationCount);

    private static async Task<PresenceClusterFixture> StartAsync()
    {
        var cluster = new PresenceClusterFixture();
        await cluster.InitializeAsync();
        return cluster;
    }

    private static Task<long> Count(PresenceClusterFixture cluster) => cluster.Grains.GetGrain<IConnectedDeviceCountGrain>(0).Count();

    private static IEnumerable<IServiceProvider> Silos(PresenceClusterFixture cluster) =>
        cluster.Cluster.Silos.Cast<InProcessSiloHandle>().Select(s => s.SiloHost.Services);
}
