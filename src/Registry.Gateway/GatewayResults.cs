using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Registry.Abstractions;
using Registry.Gateway.Wire;

namespace Registry.Gateway;

/// <summary>Successful IoT Hub answers: always <c>application/json; charset=utf-8</c>, which the Node SDK needs to parse a body.</summary>
internal static class GatewayResults
{
    public const string JsonContentType = "application/json; charset=utf-8";

    /// <summary>A device with its quoted <c>ETag</c> header, which the C# SDK trusts over the body's <c>etag</c>.</summary>
    public static JsonHttpResult<DeviceJson> Device(HttpContext context, DeviceIdentity device)
    {
        context.Response.Headers.ETag = $"\"{device.ETag}\"";
        return TypedResults.Json(DeviceWireMapper.ToJson(device), GatewayJsonContext.Wire.DeviceJson, JsonContentType);
    }
}
