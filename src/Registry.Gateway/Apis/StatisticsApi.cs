using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Registry.Abstractions;
using Registry.Gateway.Wire;

namespace Registry.Gateway.Apis;

/// <summary>IoT Hub's statistics: <c>GET /statistics/devices</c> (registry) and <c>GET /statistics/service</c> (connections).</summary>
internal static class StatisticsApi
{
    public static RouteGroupBuilder MapStatisticsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/statistics/devices", GetDeviceStatistics).WithMetadata(RequiredAccess.RegistryRead);
        api.MapMethods("/statistics/devices", [HttpMethods.Head], GetDeviceStatistics).WithMetadata(RequiredAccess.RegistryRead);
        // The C# SDK reads it with ServiceClient.GetServiceStatisticsAsync, i.e. with ServiceConnect, as IoT Hub requires.
        api.MapMethods("/statistics/service", HeadResponses.GetAndHead, GetServiceStatistics).WithMetadata(new RequiredAccess(AccessRights.ServiceConnect));
        return api;
    }

    public static async Task<JsonHttpResult<RegistryStatisticsJson>> GetDeviceStatistics([FromServices] IGrainFactory grains)
    {
        var s = await grains.GetGrain<IDeviceRegistryGrain>(0).GetStatistics();
        return TypedResults.Json(new RegistryStatisticsJson(s.TotalDeviceCount, s.EnabledDeviceCount, s.DisabledDeviceCount),
            GatewayJsonContext.Wire.RegistryStatisticsJson, GatewayResults.JsonContentType);
    }

    /// <summary><c>{"connectedDeviceCount": n}</c>: devices with an open MQTT session, exact once no connect or disconnect is in flight.</summary>
    public static async Task<JsonHttpResult<ServiceStatisticsJson>> GetServiceStatistics([FromServices] IGrainFactory grains)
    {
        var connected = await grains.GetGrain<IConnectedDeviceCountGrain>(0).Count();
        return TypedResults.Json(new ServiceStatisticsJson(connected), GatewayJsonContext.Wire.ServiceStatisticsJson, GatewayResults.JsonContentType);
    }
}
