using Registry.Abstractions;
using Registry.Gateway.Apis;

namespace Registry.Tests.Gateway;

/// <summary>What one SSE consumer is handed of its subscription's deliveries (<see cref="EventReplayFilter"/>).</summary>
public sealed class EventReplayFilterTests
{
    private static readonly DateTime Subscribed = new(2026, 12, 4, 10, 0, 0, DateTimeKind.Utc);
    private static readonly TimeSpan Tolerance = TimeSpan.FromSeconds(5);

    private static RegistryEvent Event(string correlationId, DateTime enqueuedAt) => new()
    {
        Source = RegistryEventSources.HeartbeatAlerts,
        OpType = RegistryEventTypes.HeartbeatMissed,
        DeviceId = "d1",
        OperationTimestamp = enqueuedAt,
        SystemProperties = new Dictionary<string, string>
        {
            ["iothub-enqueuedtime"] = enqueuedAt.ToString("o", System.Globalization.CultureInfo.InvariantCulture),
            ["correlation-id"] = correlationId,
        },
        ApplicationProperties = new Dictionary<string, string>(),
        Body = "{}",
    };

    [Theory]
    [InlineData(-60, false)] // a queue message raised before the subscription, delivered again
    [InlineData(-6, false)]
    [InlineData(-5, true)] // within the clocks' tolerance
    [InlineData(0, true)]
    [InlineData(30, true)]
    public void An_event_enqueued_before_the_subscription_beyond_the_tolerance_is_not_the_consumers(int seconds, bool admitted)
    {
        var filter = new EventReplayFilter(Subscribed, Tolerance);

        Assert.Equal(admitted, filter.Admit(Event("c1", Subscribed.AddSeconds(seconds))));
    }

    [Fact]
    public void A_correlation_id_handed_once_is_not_handed_again_and_others_are()
    {
        var filter = new EventReplayFilter(Subscribed, Tolerance);

        Assert.True(filter.Admit(Event("c1", Subscribed)));
        Assert.False(filter.Admit(Event("c1", Subscribed)));
        Assert.True(filter.Admit(Event("c2", Subscribed)));
    }

    [Fact]
    public void The_filter_remembers_the_last_ids_it_handed_and_forgets_older_ones()
    {
        var filter = new EventReplayFilter(Subscribed, Tolerance, remembered: 2);

        Assert.True(filter.Admit(Event("c1", Subscribed)));
        Assert.True(filter.Admit(Event("c2", Subscribed)));
        Assert.True(filter.Admit(Event("c3", Subscribed)));

        Assert.False(filter.Admit(Event("c3", Subscribed)));
        Assert.False(filter.Admit(Event("c2", Subscribed)));
        Assert.True(filter.Admit(Event("c1", Subscribed))); // forgotten: bounded memory per consumer
    }

    [Fact]
    public void An_event_without_the_properties_is_handed_as_it_comes()
    {
        var filter = new EventReplayFilter(Subscribed, Tolerance);
        var bare = Event("c1", Subscribed) with { SystemProperties = new Dictionary<string, string>() };

        Assert.True(filter.Admit(bare));
        Assert.True(filter.Admit(bare));
    }
}
