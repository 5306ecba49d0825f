using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>
/// The device a <c>{id}</c> route addresses, bound once for authorization and handlers alike
/// (<c>GetDevice(DeviceId id, ...)</c>). The id is taken at the route parameter's position in the raw request target
/// and percent-decoded there exactly once: Kestrel decodes every escape except <c>%2F</c>, so the route value alone
/// cannot tell <c>a%252Fb</c> from <c>a%2Fb</c>. It must decode to the routed value, the raw path must have the
/// route's shape (Kestrel removes dot segments before routing, so <c>/devices/mine/.</c> routes as <c>mine</c>) and
/// the id must follow IoT Hub's rules: the device authorized and the device handled are one, never a guess.
/// </summary>
public sealed record DeviceId
{
    /// <summary>The route parameter every registry and device route names its device with.</summary>
    public const string RouteValueName = "id";

    private DeviceId(string value) => Value = value;

    public string Value { get; }

    public override string ToString() => Value;

    /// <summary>
    /// Minimal API binding. A refusal cannot be thrown from here (binding runs before the endpoint filters), so it is
    /// kept on the request and <see cref="Errors.RegistryErrorFilter"/> answers it in IoT Hub's error shape.
    /// </summary>
    public static ValueTask<DeviceId?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        try
        {
            return ValueTask.FromResult<DeviceId?>(Resolve(context, parameter.Name ?? RouteValueName));
        }
        catch (RegistryException refusal)
        {
            context.Features.Set(new Refusal(refusal));
            return ValueTask.FromResult<DeviceId?>(null);
        }
    }

    /// <summary>Why binding refused the request's device id, or null; the error filter throws it.</summary>
    internal static RegistryException? BindingRefusal(HttpContext context) => context.Features.Get<Refusal>()?.Error;

    /// <summary>The device id at route value <paramref name="routeValueName"/>, or false when it cannot be resolved exactly.</summary>
    public static bool TryResolve(HttpContext context, string routeValueName, [NotNullWhen(true)] out DeviceId? deviceId)
    {
        try
        {
            deviceId = Resolve(context, routeValueName);
            return true;
        }
        catch (RegistryException)
        {
            deviceId = null;
            return false;
        }
    }

    /// <summary>The device id at route value <paramref name="routeValueName"/>; ArgumentInvalid when it cannot be resolved exactly.</summary>
    public static DeviceId Resolve(HttpContext context, string routeValueName = RouteValueName)
    {
        if (context.GetEndpoint() is not RouteEndpoint endpoint
            || context.Request.RouteValues[routeValueName] is not string routed
            || IndexOf(endpoint.RoutePattern, routeValueName) is not { } index
            || DeviceIdPath.RawPath(context.Features.Get<IHttpRequestFeature>()?.RawTarget) is not { } raw)
        {
            throw NotOneSegment();
        }
        // Segment 0 is the empty text before the leading '/'; the route's segments follow any path base; one trailing
        // slash is not a segment (routing ignores it too).
        if (raw.Length > 1 && raw[^1] == '/')
        {
            raw = raw[..^1];
        }
        var segments = raw.Split('/');
        var offset = 1 + SegmentCount(context.Request.PathBase);
        if (segments.Length != offset + endpoint.RoutePattern.PathSegments.Count)
        {
            throw NotOneSegment();
        }
        var id = DeviceIdPath.Decode(segments[offset + index]);
        DeviceValidation.EnsureValidDeviceId(id);
        if (!string.Equals(id, routed, StringComparison.Ordinal))
        {
            throw NotOneSegment();
        }
        return new DeviceId(id);
    }

    private static int? IndexOf(RoutePattern pattern, string routeValueName)
    {
        for (var i = 0; i < pattern.PathSegments.Count; i++)
        {
            if (pattern.PathSegments[i].Parts is [RoutePatternParameterPart { IsCatchAll: false } part] && part.Name == routeValueName)
            {
                return i;
            }
        }
        return null;
    }

    private static int SegmentCount(PathString pathBase) =>
        pathBase.HasValue ? pathBase.Value!.TrimEnd('/').Count(c => c == '/') : 0;

    private static RegistryException NotOneSegment() =>
        RegistryException.Invalid("The device id in the path is not a single path segment.");

    private sealed record Refusal(RegistryException Error);
}
