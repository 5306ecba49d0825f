using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>
/// The raw-target reading <see cref="DeviceId"/> is bound with: Kestrel decodes every escape except <c>%2F</c>, so
/// <c>a%252Fb</c> and <c>a%2Fb</c> would both reach the route as <c>a%2Fb</c>. Decoding the raw segment once keeps
/// every allowed special character (<c>%25</c>, <c>%23</c>, <c>%3F</c>, ...) exact.
/// </summary>
internal static class DeviceIdPath
{
    /// <summary>
    /// Percent-decodes a path segment strictly: every <c>%</c> must start an escape of two hex digits and the bytes
    /// must be UTF-8. <c>Uri.UnescapeDataString</c> leaves a malformed escape as text, and since <c>%</c> is a legal
    /// id character, <c>%FF</c> would otherwise name a device "…%FF…" that <c>%25FF</c> also reaches.
    /// </summary>
    public static string Decode(string segment)
    {
        if (!segment.Contains('%'))
        {
            return segment;
        }
        var bytes = new List<byte>(segment.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < segment.Length; i++)
        {
            if (segment[i] == '%')
            {
                if (i + 2 >= segment.Length || !byte.TryParse(segment.AsSpan(i + 1, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var b))
                {
                    throw RegistryException.Invalid("The device id in the path has a malformed percent-escape.");
                }
                bytes.Add(b);
                i += 2;
            }
            else
            {
                var count = System.Text.Encoding.UTF8.GetBytes(segment.AsSpan(i, char.IsHighSurrogate(segment[i]) && i + 1 < segment.Length ? 2 : 1), utf8);
                bytes.AddRange(utf8[..count]);
                i += char.IsHighSurrogate(segment[i]) && i + 1 < segment.Length ? 1 : 0;
            }
        }
        try
        {
            return StrictUtf8.GetString(bytes.ToArray());
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw RegistryException.Invalid("The device id in the path is not valid UTF-8.");
        }
    }

    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The still-encoded path of a request target (origin-form or absolute-form) without its query; null when it has none.</summary>
    public static string? RawPath(string? rawTarget)
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
        return path.StartsWith('/') ? path.ToString() : null;
    }
}
