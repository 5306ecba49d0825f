using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Heartbeats;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Heartbeats;

/// <summary>
/// A monitoring change whose partition cannot register its reminder (the reminder service still reading its table after
/// a start, or its storage away) is refused as storage is: 503 <c>ServiceUnavailable</c> for the caller to retry, not a
/// 500. The suite met it once, a test cluster's reminder service "still initializing" under load.
/// </summary>
public sealed class ReminderUnavailableTests
{
    private static volatile bool s_failUpserts;

    [Fact(Timeout = 120_000)]
    public async Task A_monitoring_change_whose_reminder_cannot_be_registered_answers_503_and_its_retry_is_applied()
    {
        var token = TestContext.Current.CancellationToken;
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>("remfail", b => b.Options.InitialSilosCount = 1);
        try
        {
            var id = $"remfail-{Guid.NewGuid():N}";
            await cluster.GrainFactory.GetGrain<IDeviceGrain>(id).Create(DeviceInputs.Sas(id));
            var monitor = cluster.GrainFactory.GetGrain<IHeartbeatMonitorGrain>(DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions));

            s_failUpserts = true;
            await Assert.ThrowsAsync<StorageUnavailableException>(() =>
                cluster.GrainFactory.GetGrain<IDeviceHeartbeatGrain>(id).SetHeartbeat(new HeartbeatOverride(new HeartbeatPolicy(60, 0))));

            s_failUpserts = false;
            await cluster.GrainFactory.GetGrain<IDeviceHeartbeatGrain>(id).SetHeartbeat(new HeartbeatOverride(new HeartbeatPolicy(60, 0))).WaitAsync(token);
            Assert.True(await monitor.IsWatching(id));
        }
        finally
        {
            s_failUpserts = false;
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = RegistryClusterFixture.Partitions });
            // The registry's reminder table (memory here), whose writes fail while the test says so.
            ReminderTableDecorator.Replace(silo, inner => new FailingReminderTable(inner));
        }
    }

    private sealed class FailingReminderTable(IReminderTable inner) : ReminderTableDecorator(inner)
    {
        public override Task<string?> UpsertRow(ReminderEntry entry) =>
            // As the reminder service's own refusal while it boots: an OrleansException, which the gateway answered with 500.
            s_failUpserts ? Task.FromException<string?>(new OrleansException("injected: the reminder table is not ready")) : base.UpsertRow(entry);
    }
}
