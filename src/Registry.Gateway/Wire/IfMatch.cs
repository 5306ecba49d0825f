using Microsoft.Extensions.Primitives;
using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>
/// Reads RFC 7232 <c>If-Match</c> the way both IoT Hub SDKs send it (docs/wire-contract.md §5): <c>*</c> and <c>"*"</c>
/// are the wildcard, quotes and the <c>W/</c> of a quoted weak tag are stripped, and a comma list names several tags.
/// </summary>
internal static class IfMatch
{
    /// <summary>
    /// The condition, or null only when no <c>If-Match</c> line was sent (PUT then means "create"). A header that names
    /// no tag (blank, <c>,</c>, <c>W/</c>) is malformed, not absent: a condition that matches nothing, so a PUT with
    /// If-Match never creates and a DELETE with one never deletes unconditionally.
    /// </summary>
    public static ETagCondition? Parse(StringValues header)
    {
        if (header.Count == 0)
        {
            return null;
        }
        var tags = new List<string>();
        foreach (var value in header)
        {
            if (value is null)
            {
                continue;
            }
            foreach (var tag in Tags(value))
            {
                if (tag == "*")
                {
                    return ETagCondition.Any;
                }
                tags.Add(tag);
            }
        }
        return new ETagCondition(tags);
    }

    /// <summary>
    /// Strips one pair of surrounding quotes from a single tag, and the weak prefix of RFC 7232's <c>W/"…"</c>. A bare
    /// <c>W/…</c> is no weak tag (RFC 7232 quotes every opaque tag) but a value as it is: the registry's random base64
    /// ETags begin with <c>W/</c> about once in 4,096, and a bulk or import <c>eTag</c> carries them raw.
    /// </summary>
    public static string Unquote(string tag)
    {
        var t = tag.Trim();
        if (t.Length >= 4 && t.StartsWith("W/\"", StringComparison.Ordinal) && t[^1] == '"')
        {
            t = t[2..];
        }
        return t.Length >= 2 && t[0] == '"' && t[^1] == '"' ? t[1..^1] : t;
    }

    // A quoted tag may itself contain a comma (RFC 7232 etagc), so the list is scanned rather than split.
    private static IEnumerable<string> Tags(string value)
    {
        var i = 0;
        while (i < value.Length)
        {
            while (i < value.Length && (value[i] == ',' || char.IsWhiteSpace(value[i])))
            {
                i++;
            }
            if (i >= value.Length)
            {
                yield break;
            }
            var start = i;
            if (string.CompareOrdinal(value, i, "W/", 0, 2) == 0)
            {
                i += 2;
            }
            if (i < value.Length && value[i] == '"')
            {
                var close = value.IndexOf('"', i + 1);
                i = close < 0 ? value.Length : close + 1;
            }
            while (i < value.Length && value[i] != ',')
            {
                i++;
            }
            yield return Unquote(value[start..i]);
        }
    }
}
