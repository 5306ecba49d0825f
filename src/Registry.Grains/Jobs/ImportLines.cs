namespace Registry.Grains.Jobs;

/// <summary>Splits a chunk of NDJSON into lines (without <c>\n</c> or a trailing <c>\r</c>), each with its byte offset in the input.</summary>
internal static class ImportLines
{
    public static IEnumerable<(long Offset, int Start, int Length)> Split(byte[] data, long baseOffset)
    {
        var start = 0;
        while (start < data.Length)
        {
            var newline = Array.IndexOf(data, (byte)'\n', start);
            var end = newline < 0 ? data.Length : newline;
            var length = end - start;
            if (length > 0 && data[end - 1] == (byte)'\r')
            {
                length--;
            }
            var skip = 0;
            // A UTF-8 byte order mark before the first line is not part of it.
            if (baseOffset + start == 0 && length >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
            {
                skip = 3;
            }
            yield return (baseOffset + start, start + skip, length - skip);
            start = end + 1;
        }
    }
}
