using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Events;
using Registry.Grains.Heartbeats;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Heartbeats;

/// <summary>
/// A silo that is stopping asks no device: such a probe finds no silo to place the device on and only logs errors. The
/// silos' stopping signal is raised by hand, so the cluster is still whole when the partition's check runs.
/// </summary>
public sealed class HeartbeatShutdownTests
{
    private static readonly FakeTimeProvider Clock = new(DateTimeOffset.UtcNow);
    private static readonly CapturingEventSink Events = new();
    private static int s_probes;

    // Bounded: its wait for the reminder service below ends with the test's token, never with the suite (an unbounded
    // retry loop here, without a pause between calls, kept a fresh-clone run of the suite from ending on 2026-12-03).
    [Fact(Timeout = 120_000)]
    public async Task A_partition_whose_silo_is_stopping_asks_no_device_and_raises_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        // One silo: the partition and the device share it, and no silo start waits on another's (a two-silo start
        // timed out once in CI reading the layout record from a memory-storage grain placed on the silo still starting).
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>("hbstop", b => b.Options.InitialSilosCount = 1);
        try
        {
            var id = $"stopping-{Guid.NewGuid():N}";
            await cluster.GrainFactory.GetGrain<IDeviceGrain>(id).Create(DeviceInputs.Sas(id));
            // A 503 while the silo's reminder service still reads its table after the start (it met one under load) is
            // retried. Orleans retries a failed first read of the table on its own timer (up to ~30 s, then 10-20 s apart),
            // so the calls pause in between instead of flooding the silo, and each refusal is kept for the test's output.
            await ReminderService.RetryWhileUnavailableAsync(
                () => cluster.GrainFactory.GetGrain<IDeviceHeartbeatGrain>(id).SetHeartbeat(new HeartbeatOverride(new HeartbeatPolicy(2, 0))), ct);
            var monitor = cluster.GrainFactory.GetGrain<IHeartbeatMonitorGrain>(DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions));
            Assert.True(await monitor.IsWatching(id));

            foreach (var silo in cluster.Silos.Cast<InProcessSiloHandle>())
            {
                silo.SiloHost.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
            }
            Clock.Advance(TimeSpan.FromSeconds(10));
            await monitor.Check();

            Assert.Equal(0, Volatile.Read(ref s_probes));
            Assert.Empty(Events.OpTypes(id));
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            silo.Services.UseGrainClock(Clock);
            silo.Services.AddSingleton<IRegistryEventSink>(Events);
            silo.AddIncomingGrainCallFilter(context =>
            {
                if (context.Grain is IMonitoredDevice && context.InterfaceMethod.Name == nameof(IMonitoredDevice.Probe))
                {
                    Interlocked.Increment(ref s_probes);
                }
                return context.Invoke();
            });
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = RegistryClusterFixture.Partitions });
        }
    }
}
