using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.TestingHost;
using Registry.Abstractions;
using Orleans.Storage;
using Registry.Grains;
using Registry.Grains.Devices;
using Registry.Grains.Events;
using Registry.Grains.Storage;
using Registry.Host;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Events;

/// <summary>
/// A notification the event stream refuses neither fails nor undoes the create or delete it reports, and is not lost: it
/// is sent again once the stream takes it, in its device's order (README "Lifecycle notifications").
/// </summary>
public sealed class FailedPublishTests(FailedPublishTests.Fixture fixture) : IClassFixture<FailedPublishTests.Fixture>
{
    /// <summary>
    /// Before 2026-12-06 a refused publish was logged and lost (a loaded Azurite lost 302 of a 2,150-line import's
    /// notifications, review 2026-12-06). The retries run off the grain that raised the notification, through the real
    /// (memory) stream, to a client app's subscription.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_refused_publish_neither_fails_nor_undoes_the_create_or_delete_and_is_delivered_once_the_stream_takes_it()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var subscriber = await EventRecorder.SubscribeAsync(fixture.Cluster.Client, RegistryEventSources.DeviceLifecycle);
        var id = NewId();
        var device = fixture.Cluster.GrainFactory.GetGrain<IDeviceGrain>(id);
        FlakySink.Down = true;
        try
        {
            var created = await device.Create(Sas(id));
            Assert.Equal(created.ETag, (await device.Get())?.ETag);
            await device.Delete(ETagCondition.Any);
            Assert.Null(await device.Get());
            Assert.Equal(0, FlakySink.Sent(id));
        }
        finally
        {
            FlakySink.Down = false;
        }

        // The retries' pause is 50 ms here: wait for both to go out, bounded (before 2026-12-06 they never came).
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (FlakySink.Sent(id) < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, ct);
        }
        Assert.True(FlakySink.Sent(id) == 2, $"{FlakySink.Sent(id)} of the device's 2 notifications reached the stream once it took them again");
        var events = await subscriber.UntilBarrierAsync([id], ct);

        Assert.Equal([RegistryEventTypes.CreateDeviceIdentity, RegistryEventTypes.DeleteDeviceIdentity], events.Select(e => e.OpType));
        Assert.DoesNotContain(Fixture.Logs.Lines, l => l.Level == LogLevel.Error && l.Text.Contains(id, StringComparison.Ordinal));
        Assert.Contains(Fixture.Logs.Lines, l => l.Category == typeof(PendingNotifications).FullName && l.Level == LogLevel.Warning
            && l.Text.Contains(id, StringComparison.Ordinal) && l.Text.Contains("waits to be sent again", StringComparison.Ordinal));
    }

    /// <summary>
    /// A create answered a failure whose write the read after it found landed raises its notification: the device exists.
    /// Before, such devices (answered 503 by a storage timeout) were never announced (hostile review, 2026-12-07).
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_create_or_delete_answered_a_failure_whose_write_landed_raises_its_notification()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var subscriber = await EventRecorder.SubscribeAsync(fixture.Cluster.Client, RegistryEventSources.DeviceLifecycle);
        var id = NewId("landed");
        var device = fixture.Cluster.GrainFactory.GetGrain<IDeviceGrain>(id);

        Fixture.DeviceFaults.FailNext(1, landThenThrow: true);
        await Assert.ThrowsAnyAsync<Exception>(() => device.Create(Sas(id)));
        Assert.NotNull(await device.Get());
        Fixture.DeviceFaults.FailNext(1, landThenThrow: true);
        await Assert.ThrowsAnyAsync<Exception>(() => device.Delete(ETagCondition.Any));
        Assert.Null(await device.Get());

        var events = await subscriber.UntilBarrierAsync([id], ct);
        Assert.Equal([RegistryEventTypes.CreateDeviceIdentity, RegistryEventTypes.DeleteDeviceIdentity], events.Select(e => e.OpType));
        Assert.DoesNotContain(RecordingOutbox.Unverified, r => r.Event.DeviceId == id);
        Assert.DoesNotContain(RecordingOutbox.Intents, r => r.Event.DeviceId == id);
    }

    /// <summary>
    /// A routed create's and delete's event is stored as an intent row before the write reaches storage, so a silo that
    /// dies once the write landed, before the stream took the event, leaves it for another silo's sweep (a review saw a
    /// create of 300 never announced after a kill -9, 2026-12-07); the event published is that row's, and its row goes
    /// once the stream took it.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_routed_create_and_delete_store_their_event_as_an_intent_before_their_write_reaches_storage()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var subscriber = await EventRecorder.SubscribeAsync(fixture.Cluster.Client, RegistryEventSources.DeviceLifecycle);
        var id = NewId("intent");
        var device = fixture.Cluster.GrainFactory.GetGrain<IDeviceGrain>(id);

        var held = Fixture.DeviceFaults.HoldNextWriteOf(id);
        var creating = device.Create(Sas(id));
        await held.Reached.WaitAsync(ct);
        var create = Assert.Single(RecordingOutbox.Intents, r => r.Event.DeviceId == id);
        held.Release();
        var created = await creating;
        held = Fixture.DeviceFaults.HoldNextWriteOf(id);
        var deleting = device.Delete(ETagCondition.Any);
        await held.Reached.WaitAsync(ct);
        var delete = Assert.Single(RecordingOutbox.Intents, r => r.Event.DeviceId == id);
        held.Release();
        await deleting;

        Assert.Equal(RegistryEventTypes.CreateDeviceIdentity, create.Event.OpType);
        Assert.Equal(OutboxChecks.Intent(OutboxChecks.Present(created.GenerationId)), create.Check);
        Assert.Equal(RegistryEventTypes.DeleteDeviceIdentity, delete.Event.OpType);
        Assert.Equal(OutboxChecks.Intent(OutboxChecks.Absent(created.GenerationId)), delete.Check);
        var events = await subscriber.UntilBarrierAsync([id], ct);
        Assert.Equal([create.Event.SystemProperties["correlation-id"], delete.Event.SystemProperties["correlation-id"]],
            events.Select(e => e.SystemProperties["correlation-id"]));
        Assert.DoesNotContain(RecordingOutbox.Intents, r => r.Event.DeviceId == id);
    }

    /// <summary>
    /// A create or delete whose write failed without the call learning whether it landed (it may still: a timed-out write
    /// goes on) is kept in the outbox as a row to verify, whose check holds exactly when the write landed.
    /// </summary>
    [Fact]
    public async Task A_create_or_delete_whose_write_may_still_land_is_kept_to_verify_against_the_generation_it_wrote()
    {
        var id = NewId("unsure");
        var device = fixture.Cluster.GrainFactory.GetGrain<IDeviceGrain>(id);

        Fixture.DeviceFaults.LandNextWriteLate();
        await Assert.ThrowsAnyAsync<Exception>(() => device.Create(Sas(id)));
        var create = Assert.Single(RecordingOutbox.Unverified, r => r.Event.DeviceId == id);
        Assert.Equal(RegistryEventTypes.CreateDeviceIdentity, create.Event.OpType);
        // Read as the sweep reads it: from storage, not through an activation (one made before the write lands answers from then).
        var storage = fixture.Cluster.GetSiloServiceProvider().GetRequiredKeyedService<IGrainStorage>(StorageNames.Registry);
        Assert.False(OutboxChecks.Landed(create.Check, (await StoredDevices.ReadAsync(storage, device.GetGrainId()))?.GenerationId),
            "a create not yet landed counted as landed");
        await Fixture.DeviceFaults.LandLateWriteAsync();
        var stored = await StoredDevices.ReadAsync(storage, device.GetGrainId());
        Assert.True(OutboxChecks.Landed(create.Check, stored?.GenerationId), $"check {create.Check} against stored {stored?.GenerationId}");

        var other = NewId("unsure-delete");
        var deleted = fixture.Cluster.GrainFactory.GetGrain<IDeviceGrain>(other);
        await deleted.Create(Sas(other));
        Fixture.DeviceFaults.FailNext(1);
        await Assert.ThrowsAnyAsync<Exception>(() => deleted.Delete(ETagCondition.Any));
        var delete = Assert.Single(RecordingOutbox.Unverified, r => r.Event.DeviceId == other);
        Assert.Equal(RegistryEventTypes.DeleteDeviceIdentity, delete.Event.OpType);
        var kept = await StoredDevices.ReadAsync(storage, deleted.GetGrainId());
        Assert.NotNull(kept);
        Assert.False(OutboxChecks.Landed(delete.Check, kept.GenerationId), "a delete that did not land counted as landed");
        Assert.True(OutboxChecks.Landed(delete.Check, null));
        // Each kept once: the row to verify replaced the write's intent row.
        Assert.DoesNotContain(RecordingOutbox.Intents, r => r.Event.DeviceId == id || r.Event.DeviceId == other);
    }

    /// <summary>What the grains hand the outbox, kept in memory (this cluster runs on memory storage, which has none).</summary>
    private sealed class RecordingOutbox : IEventOutbox
    {
        private static readonly System.Collections.Concurrent.ConcurrentQueue<(RegistryEvent Event, string Check)> UnverifiedRows = new();
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, (RegistryEvent Event, string Check)> IntentRows = new();

        /// <summary>Every row to verify ever added.</summary>
        public static IReadOnlyList<(RegistryEvent Event, string Check)> Unverified => [.. UnverifiedRows];

        /// <summary>The intent rows added and not removed.</summary>
        public static IReadOnlyList<(RegistryEvent Event, string Check)> Intents => [.. IntentRows.Values];

        public OutboxWrite Add(RegistryEvent registryEvent, string? check = null)
        {
            var entry = new OutboxEntry("recording", Guid.NewGuid().ToString("N"));
            if (check is not null && OutboxChecks.IsIntent(check))
            {
                IntentRows[entry.RowKey] = (registryEvent, check);
            }
            else if (check is not null)
            {
                UnverifiedRows.Enqueue((registryEvent, check));
            }
            return new OutboxWrite(entry, Task.CompletedTask);
        }

        public void Remove(OutboxEntry entry) => IntentRows.TryRemove(entry.RowKey, out _);
    }

    public sealed class Fixture : IAsyncLifetime
    {
        public static readonly StorageFaults DeviceFaults = new();

        public static readonly CapturedLogs Logs = new();

        public TestCluster Cluster { get; private set; } = null!;

        public async ValueTask InitializeAsync()
        {
            var builder = new TestClusterBuilder(2);
            var id = Guid.NewGuid().ToString("N")[..12];
            builder.Options.ClusterId = $"failing-sink-{id}";
            builder.Options.ServiceId = $"failing-sink-{id}";
            builder.AddSiloBuilderConfigurator<Configurator>();
            builder.AddClientBuilderConfigurator<ClientConfigurator>();
            Cluster = builder.Build();
            await Cluster.DeployAsync().WaitAsync(RegistryTestHost.StartBound);
        }

        public async ValueTask DisposeAsync()
        {
            if (Cluster is null)
            {
                return; // its start failed, and that failure is the one reported
            }
            await Cluster.StopAllSilosAsync();
            await Cluster.DisposeAsync();
        }

        private sealed class Configurator : ISiloConfigurator
        {
            public void Configure(ISiloBuilder silo)
            {
                // Registered before the registry's own (which only TryAdds): the grains publish through the failure into the real stream.
                silo.Services.AddSingleton<IRegistryEventSink>(sp => new FlakySink(ActivatorUtilities.CreateInstance<StreamEventSink>(sp)));
                silo.Services.AddSingleton<IEventOutbox, RecordingOutbox>();
                silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Registry, (sp, _) => new FlakyGrainStorage(
                    new KeyEscapingGrainStorage(sp.GetRequiredKeyedService<IGrainStorage>(SiloConfiguration.DeviceStore)), DeviceFaults,
                    sp.GetRequiredService<Orleans.Serialization.DeepCopier>()));
                silo.Services.AddSingleton<ILoggerProvider>(Logs);
                SiloConfiguration.ConfigureServices(silo, RoutedClusterFixture<AllRoutes>.Settings());
                silo.Services.Configure<RegistryEventOptions>(o => o.PublishRetryDelay = TimeSpan.FromMilliseconds(50));
            }
        }

        private sealed class ClientConfigurator : IClientBuilderConfigurator
        {
            public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) => clientBuilder.AddMemoryStreams(RegistryStreams.Provider);
        }
    }

    /// <summary>The registry's stream sink, refusing every publish while <see cref="Down"/>, as a stream whose storage is away.</summary>
    private sealed class FlakySink(IRegistryEventSink inner) : IRegistryEventSink
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> SentByDevice = new(StringComparer.Ordinal);

        public static volatile bool Down;

        public static int Sent(string deviceId) => SentByDevice.GetValueOrDefault(deviceId);

        public bool IsRouted(string source) => inner.IsRouted(source);

        public async Task Publish(RegistryEvent registryEvent)
        {
            if (Down)
            {
                throw new InvalidOperationException("The event stream is down.");
            }
            await inner.Publish(registryEvent);
            SentByDevice.AddOrUpdate(registryEvent.DeviceId, 1, (_, n) => n + 1);
        }
    }
}
