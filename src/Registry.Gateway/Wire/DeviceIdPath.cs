using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>
/// Takes the device id from the raw request target instead of the route value: Kestrel decodes every escape
/// except <c>%2F</c>, so <c>a%252Fb</c> and <c>a%2Fb</c> would both reach the route as <c>a%2Fb</c>. Decoding
/// the raw segment once keeps every allowed special character (<c>%25</c>, <c>%23</c>, <c>%3F</c>, ...) exact.
/// </summary>
internal static class DeviceIdPath
{
    /// <summary>The decoded, validated id of <c>/devices/{id}</c>; ArgumentInvalid when it breaks IoT Hub's rules.</summary>
    public static string FromRequest(HttpContext context, string routeValue)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        var id = LastSegment(raw) is { } segment ? Uri.UnescapeDataString(segment) : routeValue;
        DeviceValidation.EnsureValidDeviceId(id);
        return id;
    }

    /// <summary>
    /// The still-encoded last path segment of a request target (origin-form or absolute-form), ignoring the
    /// query and one trailing slash; null when the target has no path.
    /// </summary>
    public static string? LastSegment(string? rawTarget)
    {
        if (string.IsNullOrEmpty(rawTarget))
        {
            return null;
        }
        var path = rawTarget.AsSpan();
        var query = path.IndexOfAny('?', '#');
        if (query >= 0)
        {
            path = path[..query];
        }
        if (path.IndexOf("://") is var scheme and >= 0)
        {
            var afterAuthority = path[(scheme + 3)..].IndexOf('/');
            path = afterAuthority < 0 ? [] : path[(scheme + 3 + afterAuthority)..];
        }
        if (path.IsEmpty || path[0] != '/')
        {
            return null;
        }
        if (path.Length > 1 && path[^1] == '/')
        {
            path = path[..^1];
        }
        return path[(path.LastIndexOf('/') + 1)..].ToString();
    }
}
