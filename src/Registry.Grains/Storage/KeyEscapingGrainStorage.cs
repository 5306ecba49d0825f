using System.Text;
using Orleans.Storage;

namespace Registry.Grains.Storage;

/// <summary>
/// Wraps a grain storage so that grain keys containing characters Azure Table keys forbid still get a row of
/// their own. Orleans' Azure Table provider replaces <c>/ \ # ?</c> with <c>_</c>, which would store the devices
/// <c>a#b</c>, <c>a?b</c> and <c>a_b</c> in one row. Here those characters are written as <c>~XX</c> (hex) before the
/// inner storage sees the key. <c>~</c> is the marker because it cannot occur in a device id (it is escaped too,
/// so the mapping stays one-to-one for any key). Other keys pass through unchanged.
/// </summary>
public sealed class KeyEscapingGrainStorage(IGrainStorage inner) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, Escape(grainId), grainState);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.WriteStateAsync(stateName, Escape(grainId), grainState);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ClearStateAsync(stateName, Escape(grainId), grainState);

    public static GrainId Escape(GrainId grainId)
    {
        var key = grainId.Key.ToString();
        var escaped = EscapeKey(key);
        return ReferenceEquals(escaped, key) ? grainId : GrainId.Create(grainId.Type, escaped);
    }

    /// <summary>
    /// The least and the greatest of the escaped keys of <paramref name="keys"/> (at least one), in the ordinal order of
    /// Azure Table's RowKeys: the bounds of one range query that reads them all.
    /// </summary>
    public static (string First, string Last) EscapedRange(IEnumerable<string> keys)
    {
        string? first = null, last = null;
        foreach (var key in keys)
        {
            var escaped = EscapeKey(key);
            first = first is null || string.CompareOrdinal(escaped, first) < 0 ? escaped : first;
            last = last is null || string.CompareOrdinal(escaped, last) > 0 ? escaped : last;
        }
        return first is null ? throw new ArgumentException("No key to bound.", nameof(keys)) : (first, last!);
    }

    /// <summary>Writes <c>/ \ # ? ~</c> and control characters as <c>~XX</c>; returns the same instance when none occur.</summary>
    public static string EscapeKey(string key)
    {
        if (key.AsSpan().IndexOfAny("/\\#?~") < 0 && !key.Any(char.IsControl))
        {
            return key;
        }
        var builder = new StringBuilder(key.Length + 8);
        foreach (var c in key)
        {
            if (c is '/' or '\\' or '#' or '?' or '~' || char.IsControl(c))
            {
                builder.Append('~').Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }

    /// <summary>The inverse of <see cref="EscapeKey"/>: <c>~XX</c> back to its character.</summary>
    public static string UnescapeKey(string key)
    {
        var marker = key.IndexOf('~', StringComparison.Ordinal);
        if (marker < 0)
        {
            return key;
        }
        var builder = new StringBuilder(key.Length);
        builder.Append(key, 0, marker);
        for (var i = marker; i < key.Length; i++)
        {
            if (key[i] == '~' && i + 2 < key.Length)
            {
                builder.Append((char)int.Parse(key.AsSpan(i + 1, 2), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture));
                i += 2;
            }
            else
            {
                builder.Append(key[i]);
            }
        }
        return builder.ToString();
    }
}
