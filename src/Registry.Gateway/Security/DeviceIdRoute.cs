using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Registry.Abstractions;
using Registry.Gateway.Wire;

namespace Registry.Gateway.Security;

/// <summary>
/// Endpoint metadata marking a device endpoint (e.g. <c>/devices/{id}/messages/events</c>): which route value is
/// the device id, so the authentication middleware can apply the device rule (<see cref="DeviceAccessAuthorizer"/>)
/// without knowing the routes. Add it with <see cref="DeviceEndpointExtensions.RequireDeviceAccess{TBuilder}"/>.
/// </summary>
public sealed record DeviceIdRoute(string RouteValueName)
{
    /// <summary>
    /// The device id the request addresses, decoded once from the raw request target (as <c>DeviceIdPath</c> does for
    /// registry routes, so <c>%25</c>, <c>%23</c>, <c>%3F</c> stay exact). Refused (false) when the raw segment does not
    /// decode to the routed value (dot segments, an encoded <c>/</c>) or the id breaks IoT Hub's rules: the
    /// authorized device and the handled device must be the same, never a guess.
    /// </summary>
    public bool TryResolve(HttpContext context, [NotNullWhen(true)] out string? deviceId)
    {
        deviceId = null;
        if (context.GetEndpoint() is not RouteEndpoint endpoint
            || context.Request.RouteValues[RouteValueName] is not string routed)
        {
            return false;
        }
        var index = -1;
        var segments = endpoint.RoutePattern.PathSegments;
        for (var i = 0; i < segments.Count; i++)
        {
            if (segments[i].Parts is [RoutePatternParameterPart { IsCatchAll: false } part] && part.Name == RouteValueName)
            {
                index = i;
            }
        }
        var raw = DeviceIdPath.RawPath(context.Features.Get<IHttpRequestFeature>()?.RawTarget);
        if (index < 0 || raw is null)
        {
            return false;
        }
        var rawSegments = raw.Split('/');
        // rawSegments[0] is the empty text before the leading '/'.
        if (index + 1 >= rawSegments.Length)
        {
            return false;
        }
        string decoded;
        try
        {
            decoded = DeviceIdPath.Decode(rawSegments[index + 1]);
        }
        catch (RegistryException)
        {
            return false;
        }
        if (decoded != routed || !DeviceValidation.IsValidDeviceId(decoded))
        {
            return false;
        }
        deviceId = decoded;
        return true;
    }
}

/// <summary>Marks device endpoints; the authentication middleware then applies the device rule to them.</summary>
public static class DeviceEndpointExtensions
{
    /// <summary>
    /// Requires DeviceConnect for the device named by route value <paramref name="deviceIdRouteValue"/>: its own
    /// device token, or a DeviceConnect policy token; a disabled device is refused either way.
    /// </summary>
    public static TBuilder RequireDeviceAccess<TBuilder>(this TBuilder builder, string deviceIdRouteValue = "id")
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiredAccess(AccessRights.DeviceConnect), new DeviceIdRoute(deviceIdRouteValue));
}

/// <summary>Set on a request the device rule granted: handlers act as exactly this device.</summary>
public sealed record AuthorizedDevice(string DeviceId);
