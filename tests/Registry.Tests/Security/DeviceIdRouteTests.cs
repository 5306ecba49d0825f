using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Registry.Gateway.Security;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Security;

/// <summary>
/// The device a device endpoint authorizes must be exactly the device it handles: the id is decoded once from the raw
/// target and must agree with the routed value, or the request is refused.
/// </summary>
public class DeviceIdRouteTests
{
    [Theory]
    [InlineData("/devices/dev1/messages/events", "dev1", "dev1")]
    [InlineData($"/devices/dev1/messages/events?{ApiVersion}", "dev1", "dev1")]
    [InlineData("/devices/a%23b%3Fc/messages/events", "a#b?c", "a#b?c")]
    [InlineData("/devices/a%2525b/messages/events", "a%25b", "a%25b")]
    [InlineData("/devices/a%252Fb/messages/events", "a%2Fb", "a%2Fb")]
    [InlineData("/devices/a%21b%2Ac/messages/events", "a!b*c", "a!b*c")]
    [InlineData("https://localhost/devices/dev1/messages/events", "dev1", "dev1")]
    public void Device_id_is_decoded_once_from_the_raw_target(string rawTarget, string routed, string expected)
    {
        Assert.True(new DeviceIdRoute("id").TryResolve(Context(rawTarget, routed), out var id));
        Assert.Equal(expected, id);
    }

    [Theory]
    [InlineData("/devices/a%2Fb/messages/events", "a%2Fb", "an encoded slash is not an id character")]
    [InlineData("/devices/other/../dev1/messages/events", "dev1", "dot segments moved the route")]
    [InlineData("/devices/./dev1/messages/events", "dev1", "dot segments moved the route")]
    [InlineData("/devices/dev1/messages/events", "dev2", "raw and routed ids disagree")]
    [InlineData("/devices/dev%201/messages/events", "dev 1", "space is not allowed in ids")]
    [InlineData("/devices", "dev1", "no segment for the id")]
    [InlineData("", "dev1", "no raw target")]
    [InlineData("*", "dev1", "not a path")]
    public void Device_id_that_cannot_be_resolved_exactly_is_refused(string rawTarget, string routed, string why) =>
        Assert.False(new DeviceIdRoute("id").TryResolve(Context(rawTarget, routed), out _), why);

    [Fact]
    public void Device_id_longer_than_128_characters_is_refused()
    {
        var id = new string('a', 129);
        Assert.False(new DeviceIdRoute("id").TryResolve(Context($"/devices/{id}/messages/events", id), out _));
    }

    [Fact]
    public void A_route_value_the_pattern_does_not_have_is_refused() =>
        Assert.False(new DeviceIdRoute("deviceId").TryResolve(Context("/devices/dev1/messages/events", "dev1"), out _));

    private static DefaultHttpContext Context(string rawTarget, string routed)
    {
        var context = new DefaultHttpContext();
        context.Features.Get<IHttpRequestFeature>()!.RawTarget = rawTarget;
        context.Request.RouteValues["id"] = routed;
        context.SetEndpoint(new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse("/devices/{id}/messages/events"),
            0, EndpointMetadataCollection.Empty, "test device endpoint"));
        return context;
    }
}
