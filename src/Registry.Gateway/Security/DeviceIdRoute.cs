using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Registry.Gateway.Wire;

namespace Registry.Gateway.Security;

/// <summary>
/// Endpoint metadata marking a device endpoint (a route under <c>/devices/{id}/</c> that a device calls): which route value is
/// the device id, so the authentication middleware can apply the device rule (<see cref="DeviceAccessAuthorizer"/>)
/// without knowing the routes. Add it with <see cref="DeviceEndpointExtensions.RequireDeviceAccess{TBuilder}"/>.
/// </summary>
public sealed record DeviceIdRoute(string RouteValueName)
{
    /// <summary>The device id the request addresses, resolved by <see cref="DeviceId"/> exactly as handlers bind it.</summary>
    public bool TryResolve(HttpContext context, [NotNullWhen(true)] out string? deviceId)
    {
        deviceId = DeviceId.TryResolve(context, RouteValueName, out var id) ? id.Value : null;
        return deviceId is not null;
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

/// <summary>
/// Set on a request the device rule granted: handlers act as exactly this device. <paramref name="KeyFingerprint"/> names
/// the device key that signed the token (null for a policy token); pass it to the device grain, the final authority.
/// </summary>
public sealed record AuthorizedDevice(string DeviceId, string? KeyFingerprint);
