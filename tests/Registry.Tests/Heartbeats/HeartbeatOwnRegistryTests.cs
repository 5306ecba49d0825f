using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Heartbeats;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Heartbeats;

/// <summary>
/// Heartbeat monitoring that needs a registry of its own (durable, on Azurite): a registry default changed between two
/// starts (the monitor partitions reload the outages the first start declared under the old default, and the devices
/// answer under the new one), and a list of outages the test knows whole.
/// </summary>
public sealed class HeartbeatOwnRegistryTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);
    private static readonly FakeTimeProvider Clock = new(DateTimeOffset.UtcNow);
    private static readonly CapturingEventSink Events = new();
    private static string s_connectionString = "";
    private static string s_prefix = "";
    private static HeartbeatPolicy s_default = new(5, 0);

    /// <summary>
    /// Hostile re-check, 2026-12-04 (D2): a default raised at a restart left an outage declared under the old one listed
    /// until the device's next heartbeat, though under the new default the device was not silent. Now the partition's
    /// first question after the restart ends it quietly; an outage the new default bears out goes on, not announced twice.
    /// </summary>
    [Fact]
    public async Task A_default_raised_at_a_restart_ends_the_outages_it_does_not_bear_out_quietly_and_keeps_the_others()
    {
        s_connectionString = azurite.ConnectionString;
        s_prefix = "dflt" + Guid.NewGuid().ToString("N")[..8];
        s_default = new HeartbeatPolicy(5, 0);
        var longSilent = $"dflt-long-{Guid.NewGuid():N}";
        var briefSilent = $"dflt-brief-{Guid.NewGuid():N}";

        DateTime? longOutage = null;
        await RunAsync(async grains =>
        {
            foreach (var id in new[] { longSilent, briefSilent })
            {
                await grains.GetGrain<IDeviceGrain>(id).Create(DeviceInputs.Sas(id));
            }
            await grains.BeatAndJoinAsync(longSilent);
            Clock.Advance(TimeSpan.FromSeconds(14));
            await grains.BeatAndJoinAsync(briefSilent);
            Clock.Advance(TimeSpan.FromSeconds(6));
            await CheckAllAsync(grains);

            // Under 5 + 0 s both are in an outage: 20 s and 6 s silent.
            Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(longSilent));
            Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(briefSilent));
            longOutage = await MonitorOf(grains, longSilent).OutageOf(longSilent);
            Assert.NotNull(longOutage);
            Assert.NotNull(await MonitorOf(grains, briefSilent).OutageOf(briefSilent));
        });

        // The same registry started again with a default of 10 + 0 s, a second later: 21 s and 7 s silent.
        s_default = new HeartbeatPolicy(10, 0);
        Clock.Advance(Second);
        await RunAsync(async grains =>
        {
            await CheckAllAsync(grains);

            Assert.Null(await MonitorOf(grains, briefSilent).OutageOf(briefSilent));
            Assert.Equal(longOutage, await MonitorOf(grains, longSilent).OutageOf(longSilent));
            var listed = await ListedOutagesAsync(grains);
            Assert.Contains(longSilent, listed);
            Assert.DoesNotContain(briefSilent, listed);
            var brief = await grains.GetGrain<IDeviceHeartbeatGrain>(briefSilent).GetHeartbeat();
            Assert.Equal((s_default, (DateTime?)null), (brief.Policy, brief.OutageSince));
            // Neither recovered (no heartbeat came) nor missed again.
            Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(longSilent));
            Assert.Equal([RegistryEventTypes.HeartbeatMissed], Events.OpTypes(briefSilent));
        });
    }

    /// <summary>
    /// Hostile re-check, 2026-12-04: a default lowered at a restart (120 s to 5 s) left a device silent across it unannounced
    /// for the old 120 s, since the reloaded partition first asked it after the deadline it had stored. Now it asks after
    /// the shorter of the two; the device grain, activated by that question, is missed a deadline after its activation.
    /// </summary>
    [Fact]
    public async Task A_default_lowered_at_a_restart_announces_a_device_silent_across_it_within_two_new_deadlines()
    {
        s_connectionString = azurite.ConnectionString;
        s_prefix = "dflo" + Guid.NewGuid().ToString("N")[..8];
        s_default = new HeartbeatPolicy(120, 0);
        var silent = $"dflo-silent-{Guid.NewGuid():N}";

        await RunAsync(async grains =>
        {
            await grains.GetGrain<IDeviceGrain>(silent).Create(DeviceInputs.Sas(silent));
            await grains.BeatAndJoinAsync(silent);
            Assert.True(await MonitorOf(grains, silent).IsWatching(silent));
        });

        s_default = new HeartbeatPolicy(5, 0);
        Clock.Advance(Second);
        await RunAsync(async grains =>
        {
            await CheckAllAsync(grains);
            // The partition asks after the new 5 s, which activates the device grain; it is missed 5 s after that.
            for (var elapsed = 0; elapsed < 10; elapsed++)
            {
                Clock.Advance(Second);
                await CheckAllAsync(grains);
            }

            var missed = Assert.Single(Events.Of(silent));
            Assert.Equal(RegistryEventTypes.HeartbeatMissed, missed.OpType);
            Assert.NotNull(await MonitorOf(grains, silent).OutageOf(silent));
            Assert.Equal(s_default, (await grains.GetGrain<IDeviceHeartbeatGrain>(silent).GetHeartbeat()).Policy);
        });
    }

    /// <summary>
    /// Hostile re-check, 2026-12-04: a page that took the last outages of a partition carried a cursor whenever later
    /// partitions existed, so a walk ended on an empty page, though wire-contract §15 says the cursor is absent on the last.
    /// </summary>
    [Fact]
    public async Task An_outages_walk_ends_with_the_page_that_takes_the_last_outage()
    {
        s_connectionString = azurite.ConnectionString;
        s_prefix = "outg" + Guid.NewGuid().ToString("N")[..8];
        s_default = new HeartbeatPolicy(5, 0);
        // Two devices of the first partition: every later partition holds no outage.
        var ids = Enumerable.Range(0, 10_000).Select(i => $"outg-{i}-{s_prefix}")
            .Where(id => DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions) == 0).Take(2).ToArray();

        await RunAsync(async grains =>
        {
            foreach (var id in ids)
            {
                await grains.GetGrain<IDeviceGrain>(id).Create(DeviceInputs.Sas(id));
                await grains.BeatAndJoinAsync(id);
            }
            Clock.Advance(TimeSpan.FromSeconds(6));
            await CheckAllAsync(grains);

            var pages = new List<IReadOnlyList<HeartbeatOutage>>();
            string? cursor = null;
            do
            {
                var page = await grains.GetGrain<IHeartbeatOutagesGrain>(0).List(1, cursor);
                pages.Add(page.Outages);
                cursor = page.Continuation;
            }
            while (cursor is not null && pages.Count < 10);

            Assert.Equal(ids.Order(StringComparer.Ordinal), pages.Select(p => Assert.Single(p).DeviceId));
        });
    }

    /// <summary>
    /// Starts the test's registry (one silo; each start has the same ClusterId and ServiceId, so the same storage), runs
    /// <paramref name="body"/> on it, and stops it.
    /// </summary>
    private static async Task RunAsync(Func<IGrainFactory, Task> body)
    {
        var builder = new TestClusterBuilder(1);
        builder.Options.ClusterId = s_prefix;
        builder.Options.ServiceId = s_prefix;
        builder.AddSiloBuilderConfigurator<Configurator>();
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync().WaitAsync(RegistryTestHost.StartBound);
            await body(cluster.GrainFactory);
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    private static IHeartbeatMonitorGrain MonitorOf(IGrainFactory grains, string id) =>
        grains.GetGrain<IHeartbeatMonitorGrain>(DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions));

    private static async Task CheckAllAsync(IGrainFactory grains)
    {
        for (var partition = 0; partition < RegistryClusterFixture.Partitions; partition++)
        {
            await grains.GetGrain<IHeartbeatMonitorGrain>(partition).Check();
        }
    }

    private static async Task<List<string>> ListedOutagesAsync(IGrainFactory grains)
    {
        var listed = new List<string>();
        string? cursor = null;
        do
        {
            var page = await grains.GetGrain<IHeartbeatOutagesGrain>(0).List(100, cursor);
            listed.AddRange(page.Outages.Select(o => o.DeviceId));
            cursor = page.Continuation;
        }
        while (cursor is not null);
        return listed;
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo) =>
            DurableHeartbeatSilo.Configure(silo, Clock, Events, s_connectionString, s_prefix, s_default);
    }
}
