using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Registry.Gateway.Security;

/// <summary>
/// IoT Hub's SAS token (docs/wire-contract.md §7): <c>SharedAccessSignature sr=..&amp;sig=..&amp;se=..[&amp;skn=..]</c>.
/// Parsing, the signature check and the audience rule live here together so every caller
/// applies exactly the same algorithm; <see cref="Create"/> signs the way the SDKs do, for tests and tools.
/// </summary>
public sealed class SharedAccessSignature
{
    public const string Scheme = "SharedAccessSignature";

    /// <summary>IoT Hub's <c>MaxClockSkew</c>: a token is still accepted this long after its <c>se</c>.</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(5);

    private readonly byte[] _signedBytes;
    private readonly byte[] _signature;

    private SharedAccessSignature(string resource, string signature, string expiry, long expiresOn, string? keyName)
    {
        Resource = resource;
        DecodedResource = Uri.UnescapeDataString(resource);
        ExpiresOn = expiresOn;
        KeyName = keyName;
        // sr is signed exactly as received, still URL-encoded: SDKs differ in the casing of escapes (%2F / %2f).
        _signedBytes = Encoding.UTF8.GetBytes(resource + "\n" + expiry);
        _signature = Encoding.UTF8.GetBytes(signature);
    }

    /// <summary><c>sr</c> as received (still URL-encoded); this is what the signature covers.</summary>
    public string Resource { get; }

    /// <summary><c>sr</c> URL-decoded: the audience compared with <c>{HostName}{path}</c>.</summary>
    public string DecodedResource { get; }

    /// <summary><c>se</c>: expiry in Unix seconds.</summary>
    public long ExpiresOn { get; }

    /// <summary><c>skn</c>: the shared access policy that signed, or null for a token signed with a device key.</summary>
    public string? KeyName { get; }

    /// <summary>
    /// Reads a token (the whole <c>Authorization</c> value). Fields may come in any order; keys match
    /// case-insensitively; each pair splits on its first <c>=</c>; unknown fields are ignored; a repeated field,
    /// a missing <c>sr</c>/<c>sig</c>/<c>se</c>, an empty <c>skn</c> or a non-numeric <c>se</c> make it malformed.
    /// </summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out SharedAccessSignature? token)
    {
        token = null;
        var text = value.AsSpan().Trim();
        if (text.Length > 4096 || !text.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        text = text[Scheme.Length..];
        if (text.IsEmpty || text[0] != ' ')
        {
            return false;
        }
        text = text.TrimStart(' ');

        string? sr = null, sig = null, se = null, skn = null;
        foreach (var range in text.Split('&'))
        {
            var pair = text[range];
            if (pair.IsEmpty)
            {
                continue;
            }
            var eq = pair.IndexOf('=');
            if (eq <= 0)
            {
                return false;
            }
            var key = pair[..eq];
            var field = pair[(eq + 1)..].ToString();
            bool first;
            if (key.Equals("sr", StringComparison.OrdinalIgnoreCase))
            {
                first = Set(ref sr, field);
            }
            else if (key.Equals("sig", StringComparison.OrdinalIgnoreCase))
            {
                first = Set(ref sig, field);
            }
            else if (key.Equals("se", StringComparison.OrdinalIgnoreCase))
            {
                first = Set(ref se, field);
            }
            else if (key.Equals("skn", StringComparison.OrdinalIgnoreCase))
            {
                first = Set(ref skn, field);
            }
            else
            {
                continue; // unknown fields are ignored, as IoT Hub's own parser does
            }
            if (!first)
            {
                return false; // the same field twice is ambiguous, so refused
            }
        }

        if (string.IsNullOrEmpty(sr) || string.IsNullOrEmpty(sig) || string.IsNullOrEmpty(se) || skn is { Length: 0 }
            || !long.TryParse(se, NumberStyles.None, CultureInfo.InvariantCulture, out var expiresOn)
            || text.ContainsAny(" \t\r\n"))
        {
            return false;
        }
        // '+' stays '+' (Uri rules, not form rules): a raw '+' in a base64 sig or a device id means itself.
        token = new SharedAccessSignature(sr, Uri.UnescapeDataString(sig), se, expiresOn, skn is null ? null : Uri.UnescapeDataString(skn));
        return true;
    }

    /// <summary>True when <c>se</c> + <see cref="MaxClockSkew"/> is before <paramref name="now"/>.</summary>
    public bool IsExpired(DateTimeOffset now) => IsExpired(ExpiresOn, now);

    internal static bool IsExpired(long expiresOn, DateTimeOffset now) =>
        expiresOn < now.ToUnixTimeSeconds() - (long)MaxClockSkew.TotalSeconds;

    /// <summary>
    /// Returns once <see cref="IsExpired(long, DateTimeOffset)"/> holds by <paramref name="clock"/>'s wall clock. A timer
    /// armed for <see cref="ExpiryOf"/> runs on the monotonic clock and can fire a few milliseconds before the wall clock
    /// gets there, when a request with the same token still passes: an event stream ended by that timer waits here first,
    /// so the token is refused everywhere by the time the stream says it expired.
    /// </summary>
    internal static async Task UntilExpired(long expiresOn, TimeProvider clock, CancellationToken cancellation)
    {
        TimeSpan left;
        while ((left = ExpiryOf(expiresOn) - clock.GetUtcNow()) > TimeSpan.Zero)
        {
            await Task.Delay(left, clock, cancellation);
        }
    }

    /// <summary>The first moment <see cref="IsExpired(long, DateTimeOffset)"/> holds for a token of <paramref name="expiresOn"/>.</summary>
    internal static DateTimeOffset ExpiryOf(long expiresOn) =>
        expiresOn >= DateTimeOffset.MaxValue.ToUnixTimeSeconds() - (long)MaxClockSkew.TotalSeconds - 1
            ? DateTimeOffset.MaxValue
            : DateTimeOffset.FromUnixTimeSeconds(expiresOn + (long)MaxClockSkew.TotalSeconds + 1);

    /// <summary>
    /// Whether <c>sig</c> is <c>Base64(HMACSHA256(key, UTF8(sr + "\n" + se)))</c>, compared in constant time.
    /// <paramref name="key"/> is the decoded policy or device key.
    /// </summary>
    public bool IsSignedWith(ReadOnlySpan<byte> key)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, _signedBytes, mac);
        Span<byte> expected = stackalloc byte[Base64.GetMaxEncodedToUtf8Length(HMACSHA256.HashSizeInBytes)];
        Base64.EncodeToUtf8(mac, expected, out _, out var written);
        return CryptographicOperations.FixedTimeEquals(expected[..written], _signature);
    }

    /// <summary>
    /// Whether <see cref="DecodedResource"/> is a segment-wise, case-insensitive prefix of <paramref name="hostName"/>
    /// followed by <paramref name="path"/>: <c>/a/b</c> prefixes <c>/a/b/c</c> but not <c>/a/bc</c>.
    /// </summary>
    public bool IsValidFor(string hostName, string path) => IsAudiencePrefix(DecodedResource, hostName, path);

    internal static bool IsAudiencePrefix(string decodedResource, string hostName, string path)
    {
        var audience = decodedResource.AsSpan();
        if (audience.EndsWith('/'))
        {
            audience = audience[..^1];
        }
        if (audience.IsEmpty || path.Length > 0 && path[0] != '/')
        {
            return false;
        }
        // The audience must name the whole host ("localhostx" is not "localhost"), then whole path segments.
        if (!audience.StartsWith(hostName, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var rest = audience[hostName.Length..];
        if (rest.IsEmpty)
        {
            return true;
        }
        if (rest[0] != '/')
        {
            return false;
        }
        var target = path.AsSpan();
        if (!target.StartsWith(rest, StringComparison.OrdinalIgnoreCase)
            || (target.Length != rest.Length && target[rest.Length] != '/'))
        {
            return false;
        }
        // Segment-wise and case-insensitive as IoT Hub documents, except a device id: ids are case-sensitive, so a
        // token scoped to devices/pa must not reach the different device PA.
        var audienceSegments = rest[1..].ToString().Split('/');
        var pathSegments = target[1..rest.Length].ToString().Split('/');
        for (var i = 1; i < audienceSegments.Length; i++)
        {
            if (audienceSegments[i - 1].Equals("devices", StringComparison.OrdinalIgnoreCase)
                && !audienceSegments[i].Equals(pathSegments[i], StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Signs a token the way the Node SDKs do: <c>sr</c> is <c>encodeURIComponent(resource)</c>, the signature covers
    /// that encoded form, fields in the order sr, sig, skn, se. <paramref name="resource"/> is e.g. <c>localhost</c>
    /// (service) or <c>localhost/devices/dev1</c> (device); <paramref name="keyName"/> is null for a device key.
    /// </summary>
    public static string Create(string resource, string base64Key, string? keyName, DateTimeOffset expiresOn)
    {
        var sr = EncodeUriComponent(resource);
        var se = expiresOn.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var key = Abstractions.Base64Key.Decode(base64Key)
            ?? throw new ArgumentException("The key must be base64 of 16-64 bytes, as the registry accepts.", nameof(base64Key));
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(sr + "\n" + se));
        var sig = EncodeUriComponent(Convert.ToBase64String(mac));
        return keyName is null
            ? $"{Scheme} sr={sr}&sig={sig}&se={se}"
            : $"{Scheme} sr={sr}&sig={sig}&skn={EncodeUriComponent(keyName)}&se={se}";
    }

    /// <summary>
    /// JavaScript's <c>encodeURIComponent</c>, which the Node SDKs use: unlike <c>Uri.EscapeDataString</c> it
    /// leaves <c>! ' ( ) *</c> as they are.
    /// </summary>
    public static string EncodeUriComponent(string value)
    {
        var escaped = Uri.EscapeDataString(value);
        return escaped.Contains('%')
            ? escaped.Replace("%21", "!").Replace("%27", "'").Replace("%28", "(").Replace("%29", ")").Replace("%2A", "*")
            : escaped;
    }

    private static bool Set(ref string? slot, string value)
    {
        if (slot is not null)
        {
            return false;
        }
        slot = value;
        return true;
    }
}
