using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Gateway.Wire;

namespace Registry.Gateway.Apis;

/// <summary>IoT Hub's single-device operations and the device list: <c>/devices/{id}</c> and <c>GET /devices</c>.</summary>
// ASP0020 expects every route-named parameter to be parsable from the route value; DeviceId binds itself with
// BindAsync (which minimal APIs prefer), because the route value alone cannot tell a%252Fb from a%2Fb.
[System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "ASP0020", Justification = "DeviceId binds with BindAsync from the raw target.")]
internal static class DevicesApi
{
    public static RouteGroupBuilder MapDevicesApi(this RouteGroupBuilder api)
    {
        var devices = api.MapGroup("/devices");
        devices.MapGet("/", ListDevices).WithMetadata(RequiredAccess.RegistryRead);
        devices.MapGet("/{id}", GetDevice).WithMetadata(RequiredAccess.RegistryRead);
        // HEAD is GET without the body (HeadResponses discards it): 200 with the ETag header, or 404 with iothub-errorcode.
        devices.MapMethods("/", [HttpMethods.Head], ListDevices).WithMetadata(RequiredAccess.RegistryRead);
        devices.MapMethods("/{id}", [HttpMethods.Head], GetDevice).WithMetadata(RequiredAccess.RegistryRead);
        devices.MapPut("/{id}", PutDevice).WithMetadata(RequiredAccess.RegistryWrite);
        devices.MapDelete("/{id}", DeleteDevice).WithMetadata(RequiredAccess.RegistryWrite);
        return api;
    }

    public static async Task<JsonHttpResult<DeviceJson>> GetDevice(
        DeviceId id, HttpContext context, [FromServices] IGrainFactory grains)
    {
        var device = await grains.GetGrain<IDeviceGrain>(id.Value).Get()
            ?? throw RegistryException.DeviceNotFound(id.Value);
        return GatewayResults.Device(context, device);
    }

    /// <summary>No If-Match creates (409 when registered); any If-Match replaces under that condition.</summary>
    public static async Task<JsonHttpResult<DeviceJson>> PutDevice(
        DeviceId id, HttpContext context, [FromServices] IGrainFactory grains, [FromServices] IOptions<GatewayOptions> options)
    {
        var condition = IfMatch.Parse(context.Request.Headers.IfMatch);
        var body = await RequestBody.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes, GatewayJsonContext.Wire.DeviceRequestJson);
        var input = DeviceWireMapper.ToInput(body, id.Value);
        var grain = grains.GetGrain<IDeviceGrain>(id.Value);
        var device = condition is null ? await grain.Create(input) : await grain.Update(input, condition);
        return GatewayResults.Device(context, device);
    }

    /// <summary>An absent If-Match deletes unconditionally, as the swagger allows.</summary>
    public static async Task<NoContent> DeleteDevice(DeviceId id, HttpContext context, [FromServices] IGrainFactory grains)
    {
        var condition = IfMatch.Parse(context.Request.Headers.IfMatch) ?? ETagCondition.Any;
        await grains.GetGrain<IDeviceGrain>(id.Value).Delete(condition);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// IoT Hub's list (first <c>top</c> devices) or, when the caller sends <c>x-ms-max-item-count</c> or
    /// <c>x-ms-continuation</c>, one page of the cursor walk with the next cursor in <c>x-ms-continuation</c>.
    /// </summary>
    public static async Task<JsonHttpResult<DeviceJson[]>> ListDevices(HttpContext context, [FromServices] IGrainFactory grains)
    {
        EnsureCollectionPath(context);
        var request = ListRequest.From(context.Request);
        var page = await grains.GetGrain<IDeviceRegistryGrain>(0).List(request.MaxCount, request.Continuation);
        if (request.IsCursorWalk && page.Continuation is not null)
        {
            context.Response.Headers[ListRequest.ContinuationHeader] = page.Continuation;
        }
        var devices = page.Devices.Select(DeviceWireMapper.ToJson).ToArray();
        return TypedResults.Json(devices, GatewayJsonContext.Wire.DeviceJsonArray, GatewayResults.JsonContentType);
    }

    /// <summary>
    /// Kestrel removes dot segments before routing, so <c>/devices/.</c>, <c>/devices/%2E</c> and <c>/devices/x/..</c>
    /// arrive here as <c>/devices/</c>. They name a device ("." or "..", which no device can be), not the list: refused.
    /// </summary>
    private static void EnsureCollectionPath(HttpContext context)
    {
        var path = DeviceIdPath.RawPath(context.Features.Get<IHttpRequestFeature>()?.RawTarget);
        if (path is not null
            && !path.EndsWith("/devices", StringComparison.OrdinalIgnoreCase)
            && !path.EndsWith("/devices/", StringComparison.OrdinalIgnoreCase))
        {
            throw RegistryException.Invalid($"The path '{path}' has a dot segment where a device id belongs, and '.' and '..' are not device ids.");
        }
    }
}
