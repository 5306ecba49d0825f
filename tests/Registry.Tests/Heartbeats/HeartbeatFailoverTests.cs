using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Heartbeats;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Heartbeats;

/// <summary>
/// Invariant 5 across a silo failure: a two-silo cluster on durable storage (Azurite: device state, index, the monitor's
/// records and the reminders survive a silo), grains on a controlled clock. The silo that hosts the monitor partition and
/// the devices is killed; a device that keeps beating is never announced, one that stopped still is, once.
/// </summary>
public sealed class HeartbeatFailoverTests(AzuriteFixture azurite)
{
    private static readonly HeartbeatPolicy Policy = new(60, 30);
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(60);

    private static readonly FakeTimeProvider Clock = new(DateTimeOffset.UtcNow);
    private static readonly CapturingEventSink Events = new();
    private static string s_connectionString = "";
    private static string s_prefix = "";

    [Fact(Timeout = 300_000)]
    public async Task Killing_the_silo_of_the_monitor_partition_and_the_devices_raises_no_false_alert_and_still_announces_the_silent_one()
    {
        s_connectionString = azurite.ConnectionString;
        s_prefix = "hbf" + Guid.NewGuid().ToString("N")[..8];
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>(s_prefix);
        try
        {
            var grains = cluster.GrainFactory;
            var secondary = cluster.SecondarySilos[0];
            var joined = new List<string>();

            // Two devices that live, with their monitor partition, on the silo about to die.
            var chosen = new List<string>();
            for (var i = 0; chosen.Count < 2 && i < 400; i++)
            {
                var id = $"failover-{i}-{Guid.NewGuid():N}";
                await grains.GetGrain<IDeviceGrain>(id).Create(DeviceInputs.Sas(id));
                await grains.BeatAndJoinAsync(id);
                joined.Add(id);
                var management = grains.GetGrain<IManagementGrain>(0);
                var deviceSilo = await management.GetActivationAddress(grains.GetGrain<IDeviceGrain>(id));
                var monitorSilo = await management.GetActivationAddress(Monitor(grains, id));
                if (deviceSilo == secondary.SiloAddress && monitorSilo == secondary.SiloAddress)
                {
                    chosen.Add(id);
                }
            }
            Assert.Equal(2, chosen.Count);
            var (beating, silent) = (chosen[0], chosen[1]);

            // The monitor partitions that watch anything have their reminder, the durable trigger that outlives a silo.
            var partitions = joined.Select(id => DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions)).ToHashSet();
            Assert.Equal(partitions.Count, await ReminderRowsAsync());

            Clock.Advance(Step);
            await grains.BeatAndJoinAsync(beating);

            await cluster.KillSiloAsync(secondary);
            await SiloDeath.UntilSurvivorsSeeItDeadAsync(cluster, secondary.SiloAddress, TestContext.Current.CancellationToken);

            // The partition comes back on the survivor from its stored records (here called by the check, as its reminder
            // would). The silent device is found once its deadline has passed after the partition's and its own
            // re-activation (a probe the dying silo could not answer is retried); the horizon is fake time, generous.
            var missed = Events.Published(silent, RegistryEventTypes.HeartbeatMissed);
            for (var minute = 0; minute < 15 && !missed.IsCompleted; minute++)
            {
                await MinuteAsync(grains, beating, silent);
            }
            Assert.True(missed.IsCompleted, "the silent device was never announced");
            // Minutes more of silence: still the same outage, and the beating device is still never announced.
            for (var minute = 0; minute < 3; minute++)
            {
                await MinuteAsync(grains, beating, silent);
            }

            Assert.Empty(Events.OpTypes(beating));
            Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(silent));
            Assert.NotNull(await Monitor(grains, silent).OutageOf(silent));
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>A minute of fake time: the beating device beats, the clock moves, both partitions check.</summary>
    private static async Task MinuteAsync(IGrainFactory grains, string beating, string silent)
    {
        await grains.BeatAndJoinAsync(beating);
        Clock.Advance(Step);
        await Monitor(grains, beating).Check();
        await Monitor(grains, silent).Check();
    }

    private static IHeartbeatMonitorGrain Monitor(IGrainFactory grains, string id) =>
        grains.GetGrain<IHeartbeatMonitorGrain>(DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions));

    private static async Task<int> ReminderRowsAsync()
    {
        var table = new TableClient(s_connectionString, s_prefix + "Reminders");
        var rows = 0;
        await foreach (var row in table.QueryAsync<TableEntity>(filter: $"ReminderName eq '{HeartbeatMonitorGrain.ReminderName}'"))
        {
            rows++;
        }
        return rows;
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo) =>
            DurableHeartbeatSilo.Configure(silo, Clock, Events, s_connectionString, s_prefix, Policy);
    }
}
