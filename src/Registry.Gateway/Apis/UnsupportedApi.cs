using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Registry.Abstractions;

namespace Registry.Gateway.Apis;

/// <summary>
/// Catch-alls under the registry's paths, so an unknown sub-path or a wrong method answers IoT Hub's error
/// shape instead of ASP.NET's empty 404/405. Routing prefers any endpoint with a literal segment or a matching
/// method, so later features (e.g. <c>/devices/query</c>) take precedence without touching this class.
/// </summary>
internal static class UnsupportedApi
{
    public static RouteGroupBuilder MapUnsupportedApi(this RouteGroupBuilder api)
    {
        api.Map("/devices/{**rest}", Unsupported);
        api.Map("/statistics/{**rest}", Unsupported);
        return api;
    }

    /// <summary>
    /// ArgumentInvalid (400): IoT Hub's code list has no generic not-found or method-not-allowed code, and the
    /// status must stay <c>code / 1000</c>.
    /// </summary>
    public static IResult Unsupported(HttpContext context) =>
        throw RegistryException.Invalid($"The request '{context.Request.Method} {context.Request.Path}' is not supported.");
}
