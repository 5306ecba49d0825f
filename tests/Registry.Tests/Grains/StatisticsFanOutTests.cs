using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Index;
using Registry.Grains.Registry;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Grains;

/// <summary>
/// A statistics call asks the index partitions a window at a time (<see cref="DeviceRegistryGrain.StatisticsWindow"/>).
/// Found by a hostile review of a restart of 1,024 partitions (2026-12-04): the call asked every partition at once, so
/// their loads filled the silo's load queue and a device request whose own partition was not loaded yet waited behind
/// all of them (up to 8 s; with a 1 s response timeout, 503), and when storage failed each of the 1,024 activations
/// failed and was logged. Its loads are background loads, which a device request's own load goes ahead of. One silo,
/// in-memory grains, an index store whose loads answer when the test says, behind the silo's load slots (two, one of
/// them for background loads).
/// </summary>
public sealed class StatisticsFanOutTests
{
    private const int Partitions = 256;
    private const int RequestsInFlight = 8;
    private const int BackgroundSlots = RequestsInFlight / 8;
    private static HeldIndexLoads s_store = new();
    private static StorageTimeBound s_bound = null!;

    [Fact(Timeout = 120_000)]
    public async Task A_device_request_whose_partition_is_not_loaded_goes_ahead_of_a_statistics_calls_loads_which_keep_a_window()
    {
        var ct = TestContext.Current.CancellationToken;
        s_store = new HeldIndexLoads(_ => []);
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>("statwin", b => b.Options.InitialSilosCount = 1);
        try
        {
            var statistics = cluster.GrainFactory.GetGrain<IDeviceRegistryGrain>(0).GetStatistics();
            await s_store.UntilAsked(BackgroundSlots);

            // A device of the last partition, which the statistics call asks last: its load goes out while the call's
            // hold their slots. Before, it waited behind the call's queued loads (every one of them, before the window).
            var id = Enumerable.Range(0, 100_000).Select(i => $"late-{i}").First(i => DevicePartitioner.PartitionOf(i, Partitions) == Partitions - 1);
            var read = cluster.GrainFactory.GetGrain<IDeviceGrain>(id).Get();
            await s_store.UntilAsked(BackgroundSlots + 1).WaitAsync(TimeSpan.FromSeconds(30), ct);
            Assert.Equal(Partitions - 1, s_store.Asked[^1]);
            Assert.True(s_bound.LoadsWaiting > 0, "the statistics call's other loads wait meanwhile");
            s_store.Answer(Partitions - 1);
            Assert.Null(await read.WaitAsync(ct));

            // The call keeps a window of partitions asked: the rest of the window waits, one load goes out at a time.
            // Before the window, every partition's load could wait in that queue (90 and 232 at once in two runs here).
            var mostWaiting = 0L;
            for (var answered = 0; answered < Partitions - 1; answered++)
            {
                await s_store.UntilAsked(answered + 2);
                mostWaiting = Math.Max(mostWaiting, s_bound.LoadsWaiting);
                s_store.Answer(s_store.Asked.Where(p => p != Partitions - 1).ElementAt(answered));
            }
            Assert.True(mostWaiting <= DeviceRegistryGrain.StatisticsWindow - BackgroundSlots,
                $"up to {mostWaiting} partition loads waited at once (at most {DeviceRegistryGrain.StatisticsWindow - BackgroundSlots} expected)");
            Assert.Equal(new RegistryStatistics(0, 0, 0), await statistics.WaitAsync(ct));
            Assert.Equal(Enumerable.Range(0, Partitions), s_store.Asked.Order());
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>
    /// Found by hostile reviews (2026-12-04): with storage down, the call asked every partition and each activation
    /// failed and was logged (~20 s to answer with 1,024 partitions); then, with the window, with storage hung right
    /// after a restart, it waited for every load of its window to fail in turn (a slot, then the storage timeout, each)
    /// and answered only at the 30 s response timeout, where every other request answered 503 in 5 s.
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task A_statistics_call_answers_its_first_partitions_failure_at_once_and_asks_no_partition_after_it()
    {
        var ct = TestContext.Current.CancellationToken;
        s_store = new HeldIndexLoads(_ => []);
        var cluster = await RegistryClusterFixture.DeployAsync<Configurator>("statfast", b => b.Options.InitialSilosCount = 1);
        try
        {
            var statistics = cluster.GrainFactory.GetGrain<IDeviceRegistryGrain>(0).GetStatistics();
            await s_store.UntilAsked(BackgroundSlots);
            // The window's other partitions reach their load slots a moment later (each activates first): the failure
            // comes once some wait, so the answer is seen to leave them waiting (a loaded fresh-clone run, 2026-12-07,
            // failed the call before any of them had arrived, and the check below with it).
            while (s_bound.LoadsWaiting == 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10), ct);
            }
            s_store.Fail(s_store.Asked[0], new StorageUnavailableException("Storage did not answer within 5 s. Retry later."));

            var refused = await Assert.ThrowsAsync<StorageUnavailableException>(() => statistics.WaitAsync(TimeSpan.FromSeconds(30), ct));
            Assert.Equal("Storage did not answer within 5 s. Retry later.", refused.Message);
            Assert.True(s_bound.LoadsWaiting > 0, "the window's other loads were still waiting when the call answered");
            // Only the window was asked: before the window, every partition's activation failed (and was logged).
            Assert.InRange(s_store.Asked.Count, 1, DeviceRegistryGrain.StatisticsWindow);

            // Storage back: the window's loads end, and the next call counts every partition.
            s_store.Release();
            Assert.Equal(new RegistryStatistics(0, 0, 0), await cluster.GrainFactory.GetGrain<IDeviceRegistryGrain>(0).GetStatistics().WaitAsync(ct));
            Assert.Equal(Enumerable.Range(0, Partitions), s_store.Asked.Distinct().Order());
        }
        finally
        {
            s_store.Release();
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            // Registered before the registry's own (which only TryAdds): the partitions load through the held store,
            // behind load slots as a durable silo's are.
            s_bound = new StorageTimeBound(TimeSpan.FromMinutes(1), NullLogger<StorageTimeBound>.Instance, RequestsInFlight, loadWait: TimeSpan.FromMinutes(5));
            silo.Services.AddSingleton<IIndexStore>(new BoundedIndexStore(s_store, s_bound));
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = Partitions });
        }
    }
}
