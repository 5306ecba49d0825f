using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Registry.Abstractions;
using Registry.Gateway.Wire;

namespace Registry.Gateway.Apis;

/// <summary>
/// Catch-alls under the registry's paths, so an unknown sub-path or a wrong method answers IoT Hub's error
/// shape instead of ASP.NET's empty 404/405. Routing prefers any endpoint with a literal segment or a matching
/// method, so every real endpoint (<c>/devices/{id}</c>, <c>POST /devices</c>) takes precedence over these.
/// </summary>
internal static class UnsupportedApi
{
    public static RouteGroupBuilder MapUnsupportedApi(this RouteGroupBuilder api)
    {
        api.Map("/devices/{**rest}", Unsupported);
        api.Map("/statistics/{**rest}", Unsupported);
        api.Map("/heartbeat/{**rest}", Unsupported);
        api.Map("/jobs/{**rest}", Unsupported);
        // IoT Hub service paths this registry does not serve (twins and direct methods, configurations, digital twins,
        // service-side cloud-to-device): without these an SDK call got ASP.NET's bare 404, the same for a registered and
        // an unknown device, which a ported app reads as "device gone".
        api.Map("/twins/{**rest}", Unsupported);
        api.Map("/configurations/{**rest}", Unsupported);
        api.Map("/digitaltwins/{**rest}", Unsupported);
        api.Map("/messages/{**rest}", Unsupported);
        api.Map("/", Root);
        return api;
    }

    /// <summary>
    /// <c>/</c>, with any method: someone exploring the host, or a path whose dot segments Kestrel resolved to the root
    /// (<c>/devices/..</c>). Either way IoT Hub's error shape, naming the surface there is, instead of an empty 404.
    /// </summary>
    public static IResult Root(HttpContext context)
    {
        var path = DeviceIdPath.RawPath(context.Features.Get<IHttpRequestFeature>()?.RawTarget) ?? "/";
        throw RegistryException.Invalid(
            $"The request '{context.Request.Method} {path}' is not supported. This IoT Hub device registry serves " +
            "PUT/GET/DELETE /devices/{id}, GET and POST /devices, GET /statistics/devices, GET /statistics/service, " +
            "POST /jobs/create, GET /jobs, GET/DELETE /jobs/{id}, POST /devices/{id}/messages/events, " +
            "GET/PUT /devices/{id}/heartbeat, GET /heartbeat/outages, GET /events/{source}, GET /healthz, GET /readyz " +
            "and GET /openapi/v1.json (see 'The REST surface' in the README).");
    }

    /// <summary>
    /// ArgumentInvalid (400): IoT Hub's code list has no generic not-found or method-not-allowed code, and the
    /// status must stay <c>code / 1000</c>.
    /// </summary>
    public static IResult Unsupported(HttpContext context)
    {
        // Kestrel resolves dot segments before routing: DELETE /devices/%2E arrives as DELETE /devices/, which no endpoint
        // serves, and the text named a path that was never sent (hostile review, 2026-12-04). Name what was sent.
        if (DeviceIdPath.RawPath(context.Features.Get<IHttpRequestFeature>()?.RawTarget) is { } raw && HasDotSegment(raw))
        {
            throw RegistryException.Invalid(raw.StartsWith("/devices/", StringComparison.OrdinalIgnoreCase)
                ? $"The path '{raw}' has a dot segment where a device id belongs, and '.' and '..' are not device ids."
                : $"The path '{raw}' has a dot segment ('.' or '..'), which names nothing this registry serves.");
        }
        throw RegistryException.Invalid($"The request '{context.Request.Method} {context.Request.Path}' is not supported.");
    }

    private static bool HasDotSegment(string raw) =>
        raw.Split('/').Any(segment => segment.Replace("%2E", ".", StringComparison.OrdinalIgnoreCase) is "." or "..");
}
