using System.Security.Cryptography;

namespace Registry.Grains.Devices;

/// <summary>Values the registry mints for a device write: ETags and generation ids (keys: <see cref="Abstractions.Base64Key"/>).</summary>
internal static class Credentials
{
    /// <summary>
    /// A new opaque ETag. Random rather than a counter, so an ETag of a deleted device can never match its
    /// re-created successor (a counter would restart with the new generation).
    /// </summary>
    public static string NewETag() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(9));

    /// <summary>
    /// An 18-digit generation id in IoT Hub's style: the creation time in ticks. A delete and a re-create are
    /// separate turns with storage writes between them, so on the system clock they are always more than a tick apart.
    /// </summary>
    public static string NewGenerationId(DateTime createdAt) =>
        createdAt.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
