using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>
/// Reads a JSON request body under the gateway's size limit. The body is buffered (it is small by
/// construction) so an oversized one is refused before any byte reaches a grain.
/// </summary>
internal static class RequestBody
{
    public static async Task<T> ReadAsync<T>(HttpRequest request, long maxBytes, JsonTypeInfo<T> type)
        where T : class
    {
        var bytes = await ReadCappedAsync(request, maxBytes);
        return Deserialize(bytes, type);
    }

    /// <summary>ArgumentNull for an empty body or <c>null</c>; IotHubFormatError for anything that is not the expected JSON.</summary>
    public static T Deserialize<T>(ReadOnlySpan<byte> utf8, JsonTypeInfo<T> type) where T : class
    {
        // A UTF-8 byte order mark is allowed by RFC 8259 parsers that accept it; some Windows clients send one.
        if (utf8.StartsWith("\uFEFF"u8))
        {
            utf8 = utf8[3..];
        }
        if (utf8.IsEmpty)
        {
            throw new RegistryException(RegistryErrorCode.ArgumentNull, "The request body is empty.");
        }
        try
        {
            return JsonSerializer.Deserialize(utf8, type)
                ?? throw new RegistryException(RegistryErrorCode.ArgumentNull, "The request body is null.");
        }
        catch (JsonException e)
        {
            // Position only: the serializer's own message names .NET types, which say nothing to an IoT Hub client.
            throw new RegistryException(RegistryErrorCode.IotHubFormatError,
                $"The request body is not valid JSON for this operation at {e.Path ?? "$"} (line {e.LineNumber}, byte {e.BytePositionInLine}).");
        }
    }

    /// <summary>The body as bytes; MessageTooLarge (413) as soon as it passes <paramref name="maxBytes"/>, chunked or not.</summary>
    public static async Task<byte[]> ReadCappedAsync(HttpRequest request, long maxBytes)
    {
        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(maxBytes);
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                throw TooLarge(maxBytes);
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static RegistryException TooLarge(long maxBytes) =>
        new(RegistryErrorCode.MessageTooLarge, $"The request body is larger than {maxBytes} bytes.");
}
