using Registry.Abstractions;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Events;

/// <summary>
/// Without an enabled DeviceLifecycleEvents route (here it exists but is disabled, while heartbeat alerts are routed),
/// creates and deletes produce nothing, as in IoT Hub; the routed source still flows.
/// </summary>
public sealed class UnroutedLifecycleTests(RoutedClusterFixture<HeartbeatRouteOnly> fixture) : IClassFixture<RoutedClusterFixture<HeartbeatRouteOnly>>
{
    [Fact(Timeout = 60_000)]
    public async Task With_the_lifecycle_route_disabled_a_create_and_a_delete_produce_nothing()
    {
        await using var subscriber = await EventRecorder.SubscribeAsync(fixture.Client, RegistryEventSources.DeviceLifecycle);
        var id = NewId();

        await fixture.Device(id).Create(Sas(id));
        await fixture.Device(id).Delete(ETagCondition.Any);
        var bulk = NewId("bulk");
        await fixture.Registry.ApplyBulk([new BulkOperation(ImportMode.Create, Sas(bulk), null)]);

        Assert.Empty(await subscriber.UntilBarrierAsync([id, bulk], TestContext.Current.CancellationToken));
        Assert.False(fixture.Sink.IsRouted(RegistryEventSources.DeviceLifecycle));
    }

    [Fact(Timeout = 60_000)]
    public async Task An_event_of_an_unrouted_source_handed_to_the_sink_is_dropped()
    {
        await using var subscriber = await EventRecorder.SubscribeAsync(fixture.Client, RegistryEventSources.DeviceLifecycle);
        var id = NewId();

        await fixture.Sink.Publish(Registry.Grains.Events.LifecycleNotifications.Build("hub", RegistryEventTypes.CreateDeviceIdentity, id, DateTime.UtcNow, DateTime.UtcNow));

        Assert.Empty(await subscriber.UntilBarrierAsync([id], TestContext.Current.CancellationToken));
    }

    [Fact(Timeout = 60_000)]
    public async Task Heartbeat_alerts_are_routed_by_their_own_source_whatever_its_case_in_configuration()
    {
        await using var alerts = await EventRecorder.SubscribeAsync(fixture.Client, RegistryEventSources.HeartbeatAlerts);
        var id = NewId();

        Assert.True(fixture.Sink.IsRouted(RegistryEventSources.HeartbeatAlerts));
        await fixture.Sink.Publish(LifecycleNotificationTests.HeartbeatAlert(id));

        Assert.Equal([RegistryEventTypes.HeartbeatMissed], (await alerts.UntilBarrierAsync([id], TestContext.Current.CancellationToken)).Select(e => e.OpType));
    }
}
