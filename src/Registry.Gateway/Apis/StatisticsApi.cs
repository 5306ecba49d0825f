using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Registry.Abstractions;
using Registry.Gateway.Wire;

namespace Registry.Gateway.Apis;

/// <summary>IoT Hub's registry statistics: <c>GET /statistics/devices</c>.</summary>
internal static class StatisticsApi
{
    public static RouteGroupBuilder MapStatisticsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/statistics/devices", GetDeviceStatistics).WithMetadata(RequiredAccess.RegistryRead);
        api.MapMethods("/statistics/devices", [HttpMethods.Head], GetDeviceStatistics).WithMetadata(RequiredAccess.RegistryRead);
        return api;
    }

    public static async Task<JsonHttpResult<RegistryStatisticsJson>> GetDeviceStatistics([FromServices] IGrainFactory grains)
    {
        var s = await grains.GetGrain<IDeviceRegistryGrain>(0).GetStatistics();
        return TypedResults.Json(new RegistryStatisticsJson(s.TotalDeviceCount, s.EnabledDeviceCount, s.DisabledDeviceCount),
            GatewayJsonContext.Wire.RegistryStatisticsJson, GatewayResults.JsonContentType);
    }
}
