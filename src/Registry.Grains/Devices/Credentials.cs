using System.Security.Cryptography;

namespace Registry.Grains.Devices;

/// <summary>Random values the registry mints: symmetric keys, ETags and generation ids.</summary>
internal static class Credentials
{
    /// <summary>A 32-byte symmetric key, base64, as IoT Hub generates when a device is created without keys.</summary>
    public static string NewSymmetricKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// A new opaque ETag. Random rather than a counter, so an ETag of a deleted device can never match its
    /// re-created successor (a counter would restart with the new generation).
    /// </summary>
    public static string NewETag() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(9));

    /// <summary>
    /// An 18-digit generation id in IoT Hub's style: the creation time in ticks. A delete and a re-create are
    /// separate turns with storage writes between them, so they are always more than a tick apart.
    /// </summary>
    public static string NewGenerationId() =>
        DateTime.UtcNow.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
