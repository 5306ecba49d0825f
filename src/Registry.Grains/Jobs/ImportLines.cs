namespace Registry.Grains.Jobs;

/// <summary>
/// Splits a chunk of NDJSON into lines, each with its byte offset in the input. A line ends at <c>\n</c>, <c>\r\n</c>
/// or a lone <c>\r</c>, as .NET's <c>ReadLine</c> (which IoT Hub's reader is built on) ends them; the terminator is not
/// part of the line.
/// </summary>
internal static class ImportLines
{
    public static IEnumerable<(long Offset, int Start, int Length)> Split(byte[] data, long baseOffset)
    {
        var start = 0;
        while (start < data.Length)
        {
            var (length, terminator) = Measure(data.AsSpan(start));
            var skip = 0;
            // A UTF-8 byte order mark before the first line is not part of it.
            if (baseOffset + start == 0 && length >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
            {
                skip = 3;
            }
            yield return (baseOffset + start, start + skip, length - skip);
            start += length + terminator;
        }
    }

    /// <summary>
    /// The first line of <paramref name="data"/>: its length without the terminator, and the terminator's length (0 when
    /// none was found). A <c>\r</c> that ends <paramref name="data"/> counts as one byte: the caller that may have more
    /// input asks <see cref="EndsInCarriageReturn"/> first.
    /// </summary>
    public static (int Length, int Terminator) Measure(ReadOnlySpan<byte> data)
    {
        var end = data.IndexOfAny((byte)'\n', (byte)'\r');
        if (end < 0)
        {
            return (data.Length, 0);
        }
        return data[end] == (byte)'\r' && end + 1 < data.Length && data[end + 1] == (byte)'\n' ? (end, 2) : (end, 1);
    }

    /// <summary>True when the first line's terminator is a <c>\r</c> at the very end of <paramref name="data"/>, so a <c>\n</c> may follow in input not yet read.</summary>
    public static bool EndsInCarriageReturn(ReadOnlySpan<byte> data)
    {
        var end = data.IndexOfAny((byte)'\n', (byte)'\r');
        return end == data.Length - 1 && data[end] == (byte)'\r';
    }
}
