using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Registry.Gateway;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// The endpoints <see cref="GatewayExtensions.MapRegistryApi"/> maps, for tests that read their metadata (required
/// access, operation class) without starting a server.
/// </summary>
internal static class MappedEndpoints
{
    // Mapping needs no IGrainFactory and no server: handlers resolve the grain factory per request.
    private static readonly Lazy<RouteEndpoint[]> All = new(() =>
    {
        var app = WebApplication.CreateBuilder().Build();
        app.MapRegistryApi();
        return ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>().ToArray();
    });

    /// <summary>The one endpoint mapped for <paramref name="method"/> on the route template <paramref name="route"/>.</summary>
    public static RouteEndpoint Endpoint(string method, string route) => All.Value.Single(e =>
        e.RoutePattern.RawText == route && e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Contains(method) == true);
}
