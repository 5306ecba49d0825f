using System.Buffers;
using Registry.Abstractions;

namespace Registry.Grains.Jobs;

/// <summary>Whole input lines from byte <see cref="Offset"/> to <see cref="End"/>, plus errors for lines refused unread.</summary>
internal sealed record InputChunk(long Offset, long End, byte[] Data, IReadOnlyList<ImportLineError> Errors);

/// <summary>
/// Cuts the input stream into chunks of whole lines without ever holding more than one chunk and one line: a line over
/// the limit (a 100 MB line, a binary blob without newlines) is skipped as it streams past and becomes its own chunk
/// holding only its error. Lines end as <see cref="ImportLines"/> ends them (<c>\n</c>, <c>\r\n</c>, a lone <c>\r</c>), and
/// the limit counts a line's bytes without its terminator, so a file with CRLF line ends reads as the same file with LF.
/// </summary>
internal sealed class ImportChunker(Stream stream, long position, int chunkLines, int maxLineBytes, string inputName = "The input blob")
{
    // The longest line held whole: a UTF-8 byte order mark (3 bytes), the limit and a CRLF.
    private readonly byte[] _buffer = new byte[Math.Max(1 << 20, maxLineBytes + 5)];
    private int _start;
    private int _end;
    private bool _eof;
    private long _position = position;
    private InputChunk? _pending;
    private bool _checkedEncoding;

    public async Task<InputChunk?> Next(CancellationToken cancellation)
    {
        if (_pending is { } pending)
        {
            _pending = null;
            return pending;
        }
        if (_position == 0 && !_checkedEncoding)
        {
            await RefuseUtf16(cancellation);
        }
        var offset = _position;
        var data = new ArrayBufferWriter<byte>();
        var lines = 0;
        while (lines < chunkLines)
        {
            var window = _buffer.AsSpan(_start, _end - _start);
            var (content, terminator) = ImportLines.Measure(window);
            // A UTF-8 byte order mark before the first line is not part of it (ImportLines.Split), nor of its length.
            var limit = _position == 0 && window.StartsWith(Utf8ByteOrderMark) ? maxLineBytes + Utf8ByteOrderMark.Length : maxLineBytes;
            int length;
            if (terminator > 0 && content <= limit)
            {
                if (!_eof && ImportLines.EndsInCarriageReturn(window))
                {
                    await Fill(cancellation); // a \n may follow the \r: the two end one line
                    continue;
                }
                length = content + terminator;
            }
            else if (terminator > 0 || content > limit)
            {
                var lineOffset = _position;
                await SkipLine(cancellation);
                var refused = new InputChunk(lineOffset, _position, [], [new ImportLineError(null, RegistryErrorCode.DeviceInvalidResultCount,
                    $"Invalid device format in the line at byte {lineOffset}: it is longer than {maxLineBytes} bytes.")]);
                if (lines == 0)
                {
                    return refused;
                }
                _pending = refused;
                return new InputChunk(offset, lineOffset, data.WrittenSpan.ToArray(), []);
            }
            else if (!_eof)
            {
                await Fill(cancellation);
                continue;
            }
            else if (content > 0)
            {
                length = content; // the last line has no terminator
            }
            else
            {
                break;
            }
            data.Write(_buffer.AsSpan(_start, length));
            _start += length;
            _position += length;
            lines++;
        }
        return lines == 0 ? null : new InputChunk(offset, _position, data.WrittenSpan.ToArray(), []);
    }

    private static ReadOnlySpan<byte> Utf8ByteOrderMark => [0xEF, 0xBB, 0xBF];

    /// <summary>
    /// A UTF-16 file (a common way to save "Unicode" text on Windows) would have every line skipped, as none starts with
    /// the byte <c>{</c>, and the job would complete having imported nothing: it fails instead, saying why.
    /// </summary>
    private async Task RefuseUtf16(CancellationToken cancellation)
    {
        _checkedEncoding = true;
        while (_end - _start < 2 && !_eof)
        {
            await Fill(cancellation);
        }
        if (_end - _start >= 2 && _buffer[_start] is 0xFF or 0xFE && _buffer[_start + 1] == (_buffer[_start] ^ 0x01))
        {
            throw new JobStorageException($"{inputName} begins with a UTF-16 byte order mark: import reads UTF-8 text, one JSON object per line. " +
                "Save it as UTF-8 and import it again; nothing was imported.");
        }
    }

    private async Task Fill(CancellationToken cancellation)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellation);
        _end += read;
        _eof = read == 0;
    }

    private async Task SkipLine(CancellationToken cancellation)
    {
        while (true)
        {
            var window = _buffer.AsSpan(_start, _end - _start);
            var (content, terminator) = ImportLines.Measure(window);
            if (terminator > 0)
            {
                var carriageReturnLast = ImportLines.EndsInCarriageReturn(window);
                _position += content + terminator;
                _start += content + terminator;
                if (carriageReturnLast && !_eof)
                {
                    await Fill(cancellation);
                    if (_end > _start && _buffer[_start] == (byte)'\n')
                    {
                        _position++;
                        _start++;
                    }
                }
                return;
            }
            _position += _end - _start;
            _start = _end = 0;
            if (_eof)
            {
                return;
            }
            await Fill(cancellation);
        }
    }
}
