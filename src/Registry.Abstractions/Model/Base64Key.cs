using System.Security.Cryptography;

namespace Registry.Abstractions;

/// <summary>
/// The one reading and minting of symmetric keys (device keys and policy keys alike): base64 of 16–64 bytes,
/// generated at IoT Hub's 32. Decoding is strict: <see cref="Convert.FromBase64String(string)"/> skips whitespace,
/// so a key with a space or newline inside would otherwise be accepted and stored as sent.
/// </summary>
public static class Base64Key
{
    public const int MinBytes = 16;
    public const int MaxBytes = 64;
    public const int GeneratedBytes = 32;

    /// <summary>Room enough for any key the registry accepts, plus the padding slack the decoder needs.</summary>
    public const int BufferBytes = MaxBytes + 3;

    /// <summary>A fresh random key of <see cref="GeneratedBytes"/> bytes, base64.</summary>
    public static string Generate() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(GeneratedBytes));

    /// <summary>
    /// Decodes <paramref name="key"/> into <paramref name="destination"/> (at least <see cref="BufferBytes"/> long);
    /// false when it is empty, not strict base64 or not <see cref="MinBytes"/>–<see cref="MaxBytes"/> bytes.
    /// </summary>
    public static bool TryDecode(string? key, Span<byte> destination, out int length)
    {
        length = 0;
        return !string.IsNullOrEmpty(key) && !HasWhiteSpace(key)
            && Convert.TryFromBase64String(key, destination, out length) && length is >= MinBytes and <= MaxBytes;
    }

    /// <summary>The decoded bytes of a valid key, or null (see <see cref="TryDecode"/>).</summary>
    public static byte[]? Decode(string? key)
    {
        Span<byte> buffer = stackalloc byte[BufferBytes];
        return TryDecode(key, buffer, out var length) ? buffer[..length].ToArray() : null;
    }

    /// <summary>Whether <paramref name="value"/> is strict base64 at all, whatever its decoded length.</summary>
    public static bool IsBase64(string value)
    {
        var buffer = new byte[(value.Length * 3 / 4) + 3];
        return !HasWhiteSpace(value) && Convert.TryFromBase64String(value, buffer, out _);
    }

    private static bool HasWhiteSpace(string value) => value.AsSpan().ContainsAny(WhiteSpace);

    private static readonly System.Buffers.SearchValues<char> WhiteSpace = System.Buffers.SearchValues.Create(" \t\r\n\v\f");
}
