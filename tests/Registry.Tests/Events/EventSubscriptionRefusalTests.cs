using Registry.Abstractions;
using Registry.Client;

namespace Registry.Tests.Events;

/// <summary>
/// A client app's subscription that cannot receive anything is refused saying why (hostile review, 2026-12-07: a source
/// spelled as routes spell it subscribed "successfully" to a stream nothing is sent on; a cluster routing nothing
/// answered that Orleans could not create its rendezvous grain; a client without the event streams that a key was not
/// found).
/// </summary>
public sealed class EventSubscriptionRefusalTests(RoutedClusterFixture<NoRoutes> fixture) : IClassFixture<RoutedClusterFixture<NoRoutes>>
{
    [Fact]
    public async Task A_subscription_on_a_cluster_that_routes_no_source_is_refused_saying_the_silos_route_none()
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            RegistryEventSubscription.SubscribeAsync(fixture.Client, RegistryEventSources.DeviceLifecycle, _ => Task.CompletedTask));

        Assert.Contains("route no event source (Registry:Routes)", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_subscription_to_a_source_that_does_not_exist_is_refused_naming_the_sources()
    {
        var refused = await Assert.ThrowsAsync<ArgumentException>(() =>
            RegistryEventSubscription.SubscribeAsync(fixture.Client, "nosuchSource", _ => Task.CompletedTask));

        Assert.Equal("source", refused.ParamName);
        Assert.All(RegistryEventSources.All, source => Assert.Contains(source, refused.Message, StringComparison.Ordinal));
    }
}
