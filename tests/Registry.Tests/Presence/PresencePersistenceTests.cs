using Orleans.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Devices;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Presence;

/// <summary>
/// Presence is written behind (<see cref="PresenceWriter"/>): once per device per interval however often it beats, in
/// partition batches, and read back by a later activation of the device. Embedded storage on a two-silo cluster.
/// </summary>
public sealed class PresencePersistenceTests(PresenceClusterFixture fixture) : IClassFixture<PresenceClusterFixture>
{
    [Fact]
    public void The_silos_machinery_keeps_real_time_while_their_grains_read_the_test_clock()
    {
        // On the test clock Orleans' own loops stood still. Its keyed areas were put back on real time first (a device
        // create went unanswered for Orleans' 30 s, 2026-11), then placement's retries (2026-12-01); the unkeyed clock
        // also drives placement's timeout, the cluster manifest's refresh and the directory cache, and the same 30 s hang
        // came back from there (1 run in 6 of the presence classes, 2026-12-04). So only the registry's clock and grain
        // timers are the test's; the unkeyed clock, and every area falling back to it, is real time.
        string[] realTime =
        [
            TimeProviderNames.Messaging, TimeProviderNames.SystemTimers, TimeProviderNames.Membership,
            TimeProviderNames.ActivationManagement, TimeProviderNames.GrainDirectory, Orleans.Reminders.ReminderTimeProviderNames.Reminders,
        ];
        foreach (var services in fixture.Cluster.Silos.Cast<InProcessSiloHandle>().Select(s => s.SiloHost.Services))
        {
            Assert.Same(fixture.Clock, services.GetRequiredKeyedService<TimeProvider>(RegistryClock.Key));
            Assert.Same(fixture.Clock, services.GetRequiredKeyedService<TimeProvider>(TimeProviderNames.Grains));
            Assert.Same(TimeProvider.System, services.GetRequiredService<TimeProvider>());
            Assert.All(realTime, area => Assert.Same(TimeProvider.System, services.GetRequiredKeyedService<TimeProvider>(area)));
        }
    }

    [Fact]
    public async Task A_failed_placement_is_retried_on_real_time_and_then_answered()
    {
        // Orleans places a new activation through a Polly pipeline timed by the unkeyed TimeProvider. On the test clock a
        // placement that failed once waited for its retry on a clock nobody moved, and every call to that grain with it.
        foreach (var services in fixture.Cluster.Silos.Cast<InProcessSiloHandle>().Select(s => s.SiloHost.Services))
        {
            var placement = services.GetRequiredService<Polly.Registry.ResiliencePipelineProvider<string>>()
                .GetPipeline<SiloAddress>("Orleans.Placement"); // Orleans' key for it (OrleansRuntimeResiliencePolicies is internal)
            var attempts = 0;
            var placed = placement.ExecuteAsync<SiloAddress>(_ =>
            {
                attempts++;
                throw new OrleansException("no silo to place on yet");
            }, TestContext.Current.CancellationToken).AsTask();

            // A bound on a hang, not a wait for something to happen: Orleans' retries back off 0.1 s, 0.2 s, 0.4 s.
            await Assert.ThrowsAsync<OrleansException>(() => placed.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken));
            Assert.Equal(1 + new SiloMessagingOptions().PlacementMaxRetries, attempts);
        }
    }

    [Fact]
    public async Task Heartbeats_are_written_once_per_device_per_interval_however_often_the_devices_beat()
    {
        await FlushAllAsync(); // what earlier tests left
        var before = RecordsWritten();
        var ids = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            var id = NewId("beats");
            await fixture.Device(id).Create(Sas(id));
            ids.Add(id);
        }
        foreach (var _ in Enumerable.Range(0, 5))
        {
            fixture.Clock.Advance(TimeSpan.FromMilliseconds(10));
            Assert.All(await fixture.Grains.GetGrain<IHeartbeatBatchGrain>(0).Heartbeat(ids), a => Assert.Equal(DeviceAccess.Granted, a));
        }
        Assert.Equal(before, RecordsWritten()); // nothing written on the heartbeat path

        await FlushAllAsync();

        Assert.Equal(before + ids.Count, RecordsWritten());
        var store = fixture.Grains.GetGrain<IMemoryPresenceStoreGrain>(DevicePartitioner.PartitionOf(ids[0], RegistryClusterFixture.Partitions));
        Assert.Equal(fixture.Now, (await store.Read(ids[0]))!.LastActivityTime);
    }

    [Fact]
    public async Task A_later_activation_shows_the_persisted_last_activity_disconnected_and_with_the_same_etag()
    {
        var id = NewId("react");
        var created = await fixture.Device(id).Create(Sas(id));
        await fixture.Device(id).Connect(new DeviceSession(Guid.NewGuid(), null, null));
        fixture.Clock.Advance(TimeSpan.FromSeconds(1));
        await fixture.Device(id).Heartbeat();
        var activeAt = fixture.Now;
        await FlushAllAsync();
        fixture.Clock.Advance(TimeSpan.FromSeconds(5));

        await fixture.Device(id).Cast<IGrainManagementExtension>().DeactivateOnIdle();

        var device = (await fixture.Device(id).Get())!;
        Assert.Equal(DeviceConnectionState.Disconnected, device.ConnectionState); // a new activation: sessions are gone
        Assert.Equal(activeAt, device.LastActivityTime);
        Assert.Equal(created.ETag, device.ETag);
    }

    /// <summary>
    /// Review, stop 32: an import deactivates the devices it wrote, and the next activation showed a device that had
    /// connected and disconnected with <c>connectionStateUpdatedTime</c> "never" (0001-01-01): the time of the change
    /// was not part of the persisted presence, and a disconnect did not mark presence for writing at all.
    /// </summary>
    [Fact]
    public async Task A_later_activation_shows_when_the_device_last_disconnected()
    {
        var id = NewId("discon");
        await fixture.Device(id).Create(Sas(id));
        var session = new DeviceSession(Guid.NewGuid(), null, null);
        await fixture.Device(id).Connect(session);
        fixture.Clock.Advance(TimeSpan.FromSeconds(1));
        await fixture.Device(id).Heartbeat();
        var activeAt = fixture.Now;
        await FlushAllAsync(); // the heartbeat written; the disconnect comes after
        fixture.Clock.Advance(TimeSpan.FromSeconds(1));
        await fixture.Device(id).Disconnect(session.SessionId);
        var disconnectedAt = fixture.Now;
        Assert.Equal(disconnectedAt, (await fixture.Device(id).Get())!.ConnectionStateUpdatedTime);
        fixture.Clock.Advance(TimeSpan.FromSeconds(5));

        await fixture.Device(id).Cast<IGrainManagementExtension>().DeactivateOnIdle();

        var device = (await fixture.Device(id).Get())!;
        Assert.Equal(DeviceConnectionState.Disconnected, device.ConnectionState);
        Assert.Equal(disconnectedAt, device.ConnectionStateUpdatedTime);
        Assert.Equal(activeAt, device.LastActivityTime);
    }

    [Fact]
    public async Task A_device_deactivated_before_the_writer_wrote_it_writes_its_presence_on_deactivation()
    {
        var id = NewId("deact");
        await fixture.Device(id).Create(Sas(id));
        await FlushAllAsync();
        var written = RecordsWritten();
        await fixture.Device(id).Connect(new DeviceSession(Guid.NewGuid(), null, null));
        fixture.Clock.Advance(TimeSpan.FromSeconds(1));
        await fixture.Device(id).Heartbeat();
        var activeAt = fixture.Now;

        await fixture.Device(id).Cast<IGrainManagementExtension>().DeactivateOnIdle();

        var device = (await fixture.Device(id).Get())!;
        Assert.Equal(DeviceConnectionState.Disconnected, device.ConnectionState);
        Assert.Equal(activeAt, device.LastActivityTime);
        await FlushAllAsync();
        Assert.Equal(written, RecordsWritten()); // written once, by the deactivation; the writer found it clean
    }

    [Fact]
    public async Task A_device_deactivated_while_queued_at_the_writer_is_no_longer_kept_alive_by_it()
    {
        await FlushAllAsync(); // what earlier tests left
        var id = NewId("held");
        await fixture.Device(id).Create(Sas(id));
        await fixture.Device(id).Heartbeat();
        Assert.Equal(1, Writers.Sum(w => w.HeldActivations));

        await fixture.Device(id).Cast<IGrainManagementExtension>().DeactivateOnIdle();
        Assert.NotNull(await fixture.Device(id).Get()); // a new activation, which has not beaten

        // Written by its deactivation; until the next flush the queue keeps only its place, not the whole activation
        // (a minute by default, and every activation a device went through in that minute).
        Assert.Equal(0, Writers.Sum(w => w.HeldActivations));
        var written = RecordsWritten();
        await FlushAllAsync();
        Assert.Equal(written, RecordsWritten());
    }

    [Fact]
    public async Task A_device_created_again_does_not_inherit_the_persisted_activity_of_the_deleted_one()
    {
        var id = NewId("again");
        await fixture.Device(id).Create(Sas(id));
        await fixture.Device(id).Heartbeat();
        await FlushAllAsync();
        await fixture.Device(id).Delete(ETagCondition.Any);
        fixture.Clock.Advance(TimeSpan.FromSeconds(1)); // generation ids are creation times, as IoT Hub's
        await fixture.Device(id).Create(Sas(id));

        await fixture.Device(id).Cast<IGrainManagementExtension>().DeactivateOnIdle();

        Assert.Equal(default, (await fixture.Device(id).Get())!.LastActivityTime);
    }

    [Fact]
    public async Task Each_flush_writes_the_devices_that_beat_since_the_last_one_once_and_with_their_latest_time()
    {
        await FlushAllAsync(); // what earlier tests left
        var ids = new List<string>();
        for (var i = 0; i < 250; i++) // more than one batch in some partitions
        {
            var id = NewId("rounds");
            await fixture.Device(id).Create(Sas(id));
            ids.Add(id);
        }
        var batch = fixture.Grains.GetGrain<IHeartbeatBatchGrain>(0);
        for (var round = 0; round < 3; round++)
        {
            var before = RecordsWritten();
            fixture.Clock.Advance(TimeSpan.FromSeconds(1));
            Assert.All(await batch.Heartbeat(ids), a => Assert.Equal(DeviceAccess.Granted, a));
            Assert.All(await batch.Heartbeat(ids[..10]), a => Assert.Equal(DeviceAccess.Granted, a));

            await FlushAllAsync();

            Assert.Equal(before + ids.Count, RecordsWritten());
            foreach (var id in new[] { ids[0], ids[^1] })
            {
                var store = fixture.Grains.GetGrain<IMemoryPresenceStoreGrain>(DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions));
                Assert.Equal(fixture.Now, (await store.Read(id))!.LastHeartbeatTime);
            }
        }
        var idle = RecordsWritten();
        await FlushAllAsync();
        Assert.Equal(idle, RecordsWritten()); // nobody beat: nothing to write
    }

    private IEnumerable<PresenceWriter> Writers =>
        fixture.Cluster.Silos.Cast<InProcessSiloHandle>().Select(s => s.SiloHost.Services.GetRequiredService<PresenceWriter>());

    private long RecordsWritten() => Writers.Sum(w => w.RecordsWritten);

    private async Task FlushAllAsync()
    {
        foreach (var writer in Writers)
        {
            await writer.FlushAsync();
        }
    }
}
