using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Registry.Gateway.Apis;
using Registry.Gateway.Errors;
using Registry.Gateway.Throttling;

namespace Registry.Gateway;

/// <summary>
/// How a host serves the IoT Hub registry REST surface: register with <see cref="AddRegistryGateway(IServiceCollection)"/>,
/// map with <see cref="MapRegistryApi"/>. The host provides <c>IGrainFactory</c> (co-hosted silo or Orleans client).
/// </summary>
public static class GatewayExtensions
{
    public static IServiceCollection AddRegistryGateway(this IServiceCollection services) =>
        services.AddRegistryGateway(_ => { });

    public static IServiceCollection AddRegistryGateway(this IServiceCollection services, Action<GatewayOptions> configure)
    {
        services.AddOptions<GatewayOptions>().Configure(configure);
        services.AddRegistryThrottling();
        services.AddTransient<IStartupFilter, HeadResponses>();
        services.AddTransient<IStartupFilter, OperationMetrics>();
        return services;
    }

    /// <summary>
    /// Maps <c>/devices</c>, <c>/statistics/devices</c>, <c>/jobs</c> and <c>/healthz</c>. Every registry endpoint carries a
    /// <see cref="RequiredAccess"/> and answers failures in IoT Hub's error shape; any <c>api-version</c> is accepted.
    /// </summary>
    public static IEndpointRouteBuilder MapRegistryApi(this IEndpointRouteBuilder endpoints)
    {
        // Throttling is an endpoint filter, so it runs after every middleware (authentication first) and before handlers.
        var api = endpoints.MapGroup("").AddEndpointFilter<RegistryErrorFilter>().AddEndpointFilter<ThrottlingFilter>();
        api.MapDevicesApi().MapBulkApi().MapStatisticsApi().MapHeartbeatApi().MapEventsApi().MapDeviceMessagesApi().MapJobsApi().MapUnsupportedApi();
        endpoints.MapHealthApi();
        return endpoints;
    }
}
