using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Registry.Gateway;
using Registry.Gateway.Security;

namespace Registry.Tests.Security;

/// <summary>
/// The middleware enforces only what endpoints declare, so an endpoint that forgets <see cref="RequiredAccess"/>
/// would be anonymous. This guard fails when one appears; the known anonymous ones are listed with their reason.
/// </summary>
public class EndpointAccessTests
{
    [Fact]
    public void Every_registry_endpoint_declares_its_access_except_the_known_anonymous_ones()
    {
        var app = WebApplication.CreateBuilder().Build();
        app.MapRegistryApi();
        var endpoints = ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>().ToArray();
        Assert.NotEmpty(endpoints);
        var anonymous = endpoints.Where(e => e.Metadata.GetMetadata<RequiredAccess>() is null).Select(e => e.RoutePattern.RawText).ToArray();
        // Liveness must answer without credentials; the catch-alls and the root answer a constant 400 and touch no state.
        Assert.All(anonymous, route => Assert.True(route is "/healthz" or "/" || route!.EndsWith("/{**rest}", StringComparison.Ordinal), route));
    }

    [Fact]
    public void Device_endpoints_need_DeviceConnect_and_name_their_device_route_value()
    {
        var app = WebApplication.CreateBuilder().Build();
        app.MapRegistryApi();
        var built = ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
            .Single(e => e.RoutePattern.RawText == "/devices/{id}/messages/events");
        Assert.Equal(new RequiredAccess(AccessRights.DeviceConnect), built.Metadata.GetMetadata<RequiredAccess>());
        Assert.Equal(new DeviceIdRoute("id"), built.Metadata.GetMetadata<DeviceIdRoute>());
    }
}
