using System.Text;
using Registry.Abstractions;
using Registry.Gateway.Wire;
using Registry.Grains.Jobs;

namespace Registry.Tests.Jobs;

/// <summary>
/// How an import reads its input: line ends as .NET's <c>ReadLine</c> ends them, the line limit on a line's bytes without
/// its terminator, and per-line errors in the line's terms. Found by a hostile review (D6, D7, D8).
/// </summary>
public sealed class ImportLineReadingTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)] // one byte a read: every \r meets the end of what was read
    public async Task A_lone_carriage_return_ends_a_line_as_ReadLine_does_and_a_CRLF_ends_one_line_not_two(bool trickle)
    {
        var input = "{\"id\":\"cr1\"}\r{\"id\":\"cr2\"}\r\n{\"id\":\"cr3\"}\n\r\n{\"id\":\"cr4\"}\r";

        var (lines, errors, end) = await ReadAsync(input, trickle, maxLineBytes: 64);

        Assert.Equal(["{\"id\":\"cr1\"}", "{\"id\":\"cr2\"}", "{\"id\":\"cr3\"}", "", "{\"id\":\"cr4\"}"], lines.Select(l => l.Text));
        Assert.Equal([0L, 13, 27, 40, 42], lines.Select(l => l.Offset));
        Assert.Empty(errors);
        Assert.Equal(Encoding.UTF8.GetByteCount(input), end);
    }

    [Theory]
    [InlineData("\n", false)]
    [InlineData("\r\n", false)]
    [InlineData("\r", false)]
    [InlineData("\r\n", true)]
    [InlineData("\r", true)]
    public async Task A_line_of_exactly_the_limit_is_read_whatever_ends_it_and_a_byte_more_is_refused(string terminator, bool trickle)
    {
        const int limit = 32;
        var exact = new string('a', limit);
        var over = new string('b', limit + 1);
        var input = exact + terminator + over + terminator + "{}" + terminator;

        var (lines, errors, end) = await ReadAsync(input, trickle, limit);

        Assert.Equal([exact, "{}"], lines.Select(l => l.Text));
        Assert.Equal([0L, 2L * limit + 1 + 2 * terminator.Length], lines.Select(l => l.Offset));
        var refused = Assert.Single(errors);
        Assert.Equal(RegistryErrorCode.DeviceInvalidResultCount, refused.ErrorCode);
        Assert.Contains($"at byte {limit + terminator.Length}: it is longer than {limit} bytes", refused.ErrorStatus);
        Assert.Equal(input.Length, end);
    }

    [Theory]
    [InlineData("{\"id\":5}", "$.id")]
    [InlineData("{\"id\":\"im1\",\"importMode\":3}", "$.importMode")]
    [InlineData("{\"id\":\"im2\",\"capabilities\":{\"iotEdge\":\"yes\"}}", "$.capabilities.iotEdge")]
    public void A_value_of_the_wrong_type_is_logged_by_its_path_without_the_registry_s_type_names(string line, string path)
    {
        var parsed = new DeviceLines().Parse(Encoding.UTF8.GetBytes(line));

        Assert.Null(parsed.Operation);
        Assert.Equal(RegistryErrorCode.DeviceInvalidResultCount, parsed.Error!.ErrorCode);
        Assert.Contains($"The value at {path} is not of the type a device line has there", parsed.Error.ErrorStatus);
        Assert.DoesNotContain("Registry.", parsed.Error.ErrorStatus);
        Assert.DoesNotContain("LineNumber", parsed.Error.ErrorStatus);
    }

    [Fact]
    public void A_line_that_is_not_JSON_is_logged_as_such_with_where_it_broke()
    {
        var parsed = new DeviceLines().Parse("{\"id\":\"cr1\"}{\"id\":\"cr2\"}"u8);

        Assert.Equal(RegistryErrorCode.DeviceInvalidResultCount, parsed.Error!.ErrorCode);
        Assert.Contains("It is not valid JSON (byte 12 of the line).", parsed.Error.ErrorStatus);
        Assert.DoesNotContain("LineNumber", parsed.Error.ErrorStatus);
    }

    [Theory]
    [InlineData("utf-16", false)]
    [InlineData("utf-16", true)]
    [InlineData("utf-16BE", false)]
    public async Task A_UTF_16_input_is_refused_with_a_reason_before_any_line_is_read(string encoding, bool trickle)
    {
        var bytes = Encoding.GetEncoding(encoding).GetPreamble().Concat(Encoding.GetEncoding(encoding).GetBytes("{\"id\":\"u16\"}\r\n")).ToArray();
        using Stream stream = trickle ? new TrickleStream(bytes) : new MemoryStream(bytes);
        var chunker = new ImportChunker(stream, 0, chunkLines: 2, maxLineBytes: 64, "The input blob 'devices.txt'");

        var refused = await Assert.ThrowsAsync<JobStorageException>(() => chunker.Next(CancellationToken.None));

        Assert.StartsWith("The input blob 'devices.txt' begins with a UTF-16 byte order mark", refused.Message);
        Assert.Contains("nothing was imported", refused.Message);
    }

    [Fact]
    public async Task A_UTF_8_byte_order_mark_and_a_resumed_read_are_not_taken_for_UTF_16()
    {
        var (lines, errors, _) = await ReadAsync("\uFEFF{\"id\":\"bom\"}\n", trickle: true, maxLineBytes: 64);
        Assert.Equal("{\"id\":\"bom\"}", Assert.Single(lines).Text);
        Assert.Empty(errors);

        // Resumed mid-file, bytes that look like a UTF-16 mark are just a line's bytes.
        using var stream = new MemoryStream([0xFF, 0xFE, (byte)'\n']);
        var chunk = await new ImportChunker(stream, 7, chunkLines: 2, maxLineBytes: 64).Next(CancellationToken.None);
        Assert.Equal(7, chunk!.Offset);
    }

    /// <summary>
    /// A UTF-8 byte order mark is not part of the first line, nor of its length (hostile review, 2026-12-05: a first line
    /// of exactly the limit after the mark was refused as over it).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_UTF_8_byte_order_mark_does_not_count_toward_the_first_line_s_limit(bool trickle)
    {
        const int limit = 32;
        var exact = new string('a', limit);
        var over = new string('b', limit + 1);

        var (lines, errors, _) = await ReadAsync("\uFEFF" + exact + "\n" + exact + "\n", trickle, limit);
        Assert.Equal([exact, exact], lines.Select(l => l.Text));
        Assert.Empty(errors);

        (lines, errors, _) = await ReadAsync("\uFEFF" + over + "\n{}\n", trickle, limit);
        Assert.Equal(["{}"], lines.Select(l => l.Text));
        Assert.Contains($"at byte 0: it is longer than {limit} bytes", Assert.Single(errors).ErrorStatus);
    }

    private static async Task<(List<(long Offset, string Text)> Lines, List<ImportLineError> Errors, long End)> ReadAsync(
        string input, bool trickle, int maxLineBytes)
    {
        var bytes = Encoding.UTF8.GetBytes(input);
        using Stream stream = trickle ? new TrickleStream(bytes) : new MemoryStream(bytes);
        // Two lines a chunk, so lines also meet the ends of chunks.
        var chunker = new ImportChunker(stream, 0, chunkLines: 2, maxLineBytes);
        var lines = new List<(long, string)>();
        var errors = new List<ImportLineError>();
        long end = 0;
        while (await chunker.Next(CancellationToken.None) is { } chunk)
        {
            Assert.Equal(end, chunk.Offset);
            errors.AddRange(chunk.Errors);
            foreach (var (offset, start, length) in ImportLines.Split(chunk.Data, chunk.Offset))
            {
                lines.Add((offset, Encoding.UTF8.GetString(chunk.Data, start, length)));
            }
            end = chunk.End;
        }
        return (lines, errors, end);
    }

    /// <summary>Answers every read with one byte.</summary>
    private sealed class TrickleStream(byte[] data) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(1, buffer.Length)], cancellationToken);
    }

    [Theory]
    [InlineData("{\"id\":\"a1\",\"status\":\"enabled\"}", new[] { "a1" })]
    [InlineData("{\"authentication\":{\"id\":\"inner\"},\"parentScopes\":[{\"id\":\"x\"}],\"Id\":\"A1\"}", new[] { "A1" })]
    [InlineData("{\"\\u0069d\":\"a\\u0062\"}", new[] { "ab" })]
    [InlineData("{\"id\":\"first\",\"ID\":\"second\"}", new[] { "first", "second" })]
    [InlineData("{\"identity\":\"no\",\"i\":\"no\",\"id\":7}", new string[0])]
    [InlineData("{\"status\":\"enabled\",\"id\":\"cut\",\"status", new[] { "cut" })]
    [InlineData("{\"statusReason\":\"unterminated", new string[0])]
    public void The_ids_a_line_names_are_read_as_Parse_reads_them_case_insensitively_escapes_decoded_only_at_the_top_level(string line, string[] expected)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);

        new DeviceLines().AddDeviceIds(Encoding.UTF8.GetBytes(line), ids);

        Assert.Equal(expected.Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_id_AddDeviceIds_reads_is_the_id_Parse_applies()
    {
        var line = "{\"ID\":\"dev\\u002d1\",\"importMode\":\"create\"}"u8;
        var ids = new HashSet<string>(StringComparer.Ordinal);

        new DeviceLines().AddDeviceIds(line, ids);

        Assert.Equal(new DeviceLines().Parse(line).Operation!.Device.DeviceId, Assert.Single(ids));
    }
}
