using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Heartbeats;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Heartbeats;

/// <summary>
/// Waking the heartbeat monitor partitions while storage refuses every load. Found by a hostile review (2026-12-04): each
/// of 1,024 partitions was tried four times on its own, every try a failed activation that Orleans logs as an error with
/// its stack (288 of them in 37 s of a storage outage, ~1,250 log lines a second with the index's). A try now wakes one
/// partition alone before the others, stops at its first failure and, after a pause, the next goes on with the partitions
/// left (with the round stopped at its first failure but 16 wakes in flight, a review still saw 104 in 5 s). One silo, in-memory grains, a heartbeat
/// store that refuses loads while the test says.
/// </summary>
public sealed class MonitorWakeStorageDownTests
{
    private const int Partitions = 256;
    private static readonly RefusingLoads Loads = new();

    [Fact(Timeout = 120_000)]
    public async Task A_wake_round_with_storage_down_fails_a_few_activations_per_try_not_every_partition_four_times()
    {
        var ct = TestContext.Current.CancellationToken;
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>("wakedown", b => b.Options.InitialSilosCount = 1);
        try
        {
            var waker = ((InProcessSiloHandle)cluster.Primary!).SiloHost.Services.GetRequiredService<MonitorWaker>();
            // The silo's own round at its start, with storage up.
            while (waker.Rounds == 0)
            {
                await Task.Delay(100, ct);
            }

            Loads.Refusing = true;
            var notWoken = await waker.WakeAll("storage down (test)", ct);

            var refused = Loads.Refused;
            Assert.True(refused > 0 && refused <= MonitorWaker.Tries,
                $"{refused} loads were refused in one round (at most {MonitorWaker.Tries} expected: one per try)");
            Assert.True(notWoken > 0, "the partitions whose loads were refused are reported not woken");

            // Storage back: the next round wakes every partition.
            Loads.Refusing = false;
            Assert.Equal(0, await waker.WakeAll("storage back (test)", ct));
        }
        finally
        {
            Loads.Refusing = false;
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>Refuses every load with 503 while <see cref="Refusing"/>, counting them; otherwise the inner store's answer.</summary>
    private sealed class RefusingLoads
    {
        private int _refused;

        public volatile bool Refusing;

        public int Refused => Volatile.Read(ref _refused);

        public Task<IReadOnlyList<MonitoredDevice>> Load(IHeartbeatStore inner, int partition)
        {
            if (!Refusing)
            {
                return inner.Load(partition);
            }
            Interlocked.Increment(ref _refused);
            return Task.FromException<IReadOnlyList<MonitoredDevice>>(new StorageUnavailableException("Storage could not be reached (test)."));
        }
    }

    private sealed class Store(IHeartbeatStore inner) : IHeartbeatStore
    {
        public Task<IReadOnlyList<MonitoredDevice>> Load(int partition) => Loads.Load(inner, partition);

        public Task Apply(int partition, IReadOnlyList<MonitorChange> changes) => inner.Apply(partition, changes);
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            // Registered before the registry's own (which only TryAdds).
            silo.Services.AddSingleton<IHeartbeatStore>(sp => new Store(sp.GetRequiredKeyedService<IHeartbeatStore>(SiloConfiguration.HeartbeatStore)));
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = Partitions });
        }
    }
}
