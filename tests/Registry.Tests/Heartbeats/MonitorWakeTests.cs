using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Heartbeats;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Heartbeats;

/// <summary>
/// A heartbeat monitor partition lost with its silo comes back on a survivor as soon as membership declares that silo dead
/// (<see cref="MonitorWaker"/>), not at its reminder's next tick, up to a minute later: its devices' deadlines run from
/// then. Here no reminder ever ticks (the reminder table reads as empty), so only the wake can bring it back. Durable
/// storage (Azurite), so the partition's records outlive the silo as they do in production.
/// </summary>
public sealed class MonitorWakeTests(AzuriteFixture azurite)
{
    private static string s_connectionString = "";
    private static string s_prefix = "";

    [Fact(Timeout = 90_000)]
    public async Task A_monitor_partition_whose_silo_is_declared_dead_is_active_again_on_a_survivor_without_its_reminder_and_an_empty_one_is_not()
    {
        var ct = TestContext.Current.CancellationToken;
        s_connectionString = azurite.ConnectionString;
        s_prefix = "wake" + Guid.NewGuid().ToString("N")[..8];
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>(s_prefix);
        try
        {
            var grains = cluster.GrainFactory;
            var management = grains.GetGrain<IManagementGrain>(0);
            var secondary = cluster.SecondarySilos[0];
            var waker = ((InProcessSiloHandle)cluster.Primary!).SiloHost.Services.GetRequiredService<MonitorWaker>();
            var wakers = cluster.Silos.Cast<InProcessSiloHandle>().Select(s => s.SiloHost.Services.GetRequiredService<MonitorWaker>()).ToList();
            // Each silo wakes every partition as it starts; a partition that watches nothing goes away again.
            while (wakers.Any(w => w.Rounds == 0))
            {
                await Task.Delay(100, ct);
            }

            // A partition placed on the silo about to die (activated from there), and a device it watches.
            var onSecondary = ((InProcessSiloHandle)secondary).SiloHost.Services.GetRequiredService<IGrainFactory>();
            var partition = -1;
            for (var p = 0; partition < 0 && p < RegistryClusterFixture.Partitions; p++)
            {
                await onSecondary.GetGrain<IHeartbeatMonitorGrain>(p).Count();
                if (await management.GetActivationAddress(grains.GetGrain<IHeartbeatMonitorGrain>(p)) == secondary.SiloAddress)
                {
                    partition = p;
                }
            }
            Assert.True(partition >= 0, "no partition could be placed on the secondary silo");
            var chosen = Enumerable.Range(0, 10_000).Select(i => $"wake-{i}").First(id => DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions) == partition);
            await grains.GetGrain<IDeviceGrain>(chosen).Create(DeviceInputs.Sas(chosen));
            Assert.Equal(DeviceAccess.Granted, await grains.GetGrain<IDeviceGrain>(chosen).Heartbeat());
            await grains.GetGrain<IDeviceHeartbeatGrain>(chosen).GetHeartbeat(); // waits for the join the heartbeat started
            var monitor = Monitor(grains, chosen);
            Assert.True(await monitor.IsWatching(chosen));
            Assert.Equal(secondary.SiloAddress, await management.GetActivationAddress(monitor));
            var empty = grains.GetGrain<IHeartbeatMonitorGrain>((partition + 1) % RegistryClusterFixture.Partitions);

            var rounds = waker.Rounds;
            await cluster.KillSiloAsync(secondary);

            // The survivor wakes every partition once membership declares the killed silo dead.
            while (waker.Rounds == rounds)
            {
                await Task.Delay(100, ct);
            }
            // Read from the grain directory, which activates nothing: the wake put it there.
            Assert.Equal(cluster.Primary!.SiloAddress, await management.GetActivationAddress(monitor));
            Assert.True(await monitor.IsWatching(chosen));
            // Woken as well, and gone again: it watches nothing.
            while (await management.GetActivationAddress(empty) is not null)
            {
                await Task.Delay(100, ct);
            }
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    private static IHeartbeatMonitorGrain Monitor(IGrainFactory grains, string id) =>
        grains.GetGrain<IHeartbeatMonitorGrain>(DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions));

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings
            {
                IndexPartitions = RegistryClusterFixture.Partitions,
                StorageConnectionString = s_connectionString,
                StoragePrefix = s_prefix,
                ServiceId = s_prefix,
                ClusterId = s_prefix,
                Heartbeat = new HeartbeatSettings { IntervalSeconds = 600, GraceSeconds = 0 }, // monitoring on; no deadline passes here
            });
            // A grain activates on the silo that first calls it, so the test can put a partition on the silo it kills.
            silo.Services.AddSingleton<Orleans.Runtime.PlacementStrategy>(new Orleans.Runtime.PreferLocalPlacement());
            ReminderTableDecorator.Replace(silo, inner => new UnreadReminderTable(inner));
        }
    }

    /// <summary>Stores reminders but gives a silo's reminder service none to schedule: no reminder ever ticks.</summary>
    private sealed class UnreadReminderTable(IReminderTable inner) : ReminderTableDecorator(inner)
    {
        public override Task<ReminderTableData> ReadRows(uint begin, uint end) => Task.FromResult(new ReminderTableData());
    }
}
