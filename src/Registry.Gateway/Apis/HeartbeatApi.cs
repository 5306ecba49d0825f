using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Gateway.Wire;

namespace Registry.Gateway.Apis;

/// <summary>
/// Missed-heartbeat monitoring, this registry's extension (docs/wire-contract.md): a device's policy and outage state
/// (<c>GET/PUT /devices/{id}/heartbeat</c>) and the devices in an outage now (<c>GET /heartbeat/outages</c>).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "ASP0020", Justification = "DeviceId binds with BindAsync from the raw target.")]
internal static class HeartbeatApi
{
    public static RouteGroupBuilder MapHeartbeatApi(this RouteGroupBuilder api)
    {
        api.MapMethods("/devices/{id}/heartbeat", HeadResponses.GetAndHead, GetHeartbeat).WithMetadata(RequiredAccess.RegistryRead);
        api.MapPut("/devices/{id}/heartbeat", PutHeartbeat).WithMetadata(RequiredAccess.RegistryWrite);
        api.MapMethods("/heartbeat/outages", HeadResponses.GetAndHead, ListOutages).WithMetadata(RequiredAccess.RegistryRead);
        return api;
    }

    public static async Task<JsonHttpResult<DeviceHeartbeatJson>> GetHeartbeat(DeviceId id, [FromServices] IGrainFactory grains)
    {
        var heartbeat = await grains.GetGrain<IDeviceHeartbeatGrain>(id.Value).GetHeartbeat();
        return Json(heartbeat);
    }

    /// <summary>Refused whole before the grain is called when the body is not one of the three shapes.</summary>
    public static async Task<JsonHttpResult<DeviceHeartbeatJson>> PutHeartbeat(
        DeviceId id, HttpContext context, [FromServices] IGrainFactory grains, [FromServices] IOptions<GatewayOptions> options)
    {
        var bytes = await RequestBody.ReadCappedAsync(context.Request, options.Value.MaxRequestBodyBytes);
        var body = RequestBody.Deserialize(bytes, GatewayJsonContext.Wire.HeartbeatRequestJson);
        HeartbeatRequestJson.EnsureKnownMembersOnce(bytes);
        var setting = body.ToOverride();
        var device = grains.GetGrain<IDeviceHeartbeatGrain>(id.Value);
        if (IfMatch.Parse(context.Request.Headers.IfMatch) is { IsAny: false })
        {
            // The setting has no ETag of its own (it changes apart from the identity's, whose ETag it leaves alone), so an
            // If-Match naming any tag cannot match (RFC 7232 §3.1): 412 and nothing changes (a review's PUT with
            // If-Match: "nomatch" was applied). A device that is not registered is still 404, as without the header.
            await device.GetHeartbeat();
            throw new RegistryException(RegistryErrorCode.PreconditionFailed,
                $"Precondition failed: the heartbeat setting of device '{id.Value}' has no ETag, so If-Match can only be '*'.");
        }
        var heartbeat = await device.SetHeartbeat(setting);
        return Json(heartbeat);
    }

    /// <summary>One page of outages; <c>x-ms-max-item-count</c> (1..1000) and <c>x-ms-continuation</c> as the device list's cursor walk.</summary>
    public static async Task<JsonHttpResult<HeartbeatOutageJson[]>> ListOutages(HttpContext context, [FromServices] IGrainFactory grains)
    {
        var request = ListRequest.From(null, Header(context, ListRequest.MaxItemCountHeader), Header(context, ListRequest.ContinuationHeader));
        var page = await grains.GetGrain<IHeartbeatOutagesGrain>(0).List(request.MaxCount, request.Continuation);
        if (page.Continuation is not null)
        {
            context.Response.Headers[ListRequest.ContinuationHeader] = page.Continuation;
        }
        var outages = page.Outages.Select(o => new HeartbeatOutageJson(o.DeviceId, DeviceWireMapper.FormatDate(o.Since))).ToArray();
        return TypedResults.Json(outages, GatewayJsonContext.Wire.HeartbeatOutageJsonArray, GatewayResults.JsonContentType);
    }

    private static string? Header(HttpContext context, string name) =>
        context.Request.Headers.TryGetValue(name, out var value) ? value.ToString() : null;

    private static JsonHttpResult<DeviceHeartbeatJson> Json(DeviceHeartbeat heartbeat) =>
        TypedResults.Json(DeviceHeartbeatJson.From(heartbeat), GatewayJsonContext.Wire.DeviceHeartbeatJson, GatewayResults.JsonContentType);
}
