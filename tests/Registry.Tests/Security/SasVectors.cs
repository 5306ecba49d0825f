namespace Registry.Tests.Security;

/// <summary>
/// Tokens made by the pinned Node SDK's own signer (azure-iot-common 1.13.3 <c>SharedAccessSignature.create</c>, the
/// code azure-iothub and azure-iot-device call), with fixed keys and <c>se</c>, so the server is checked against the
/// SDK's bytes rather than against its own signer.
/// </summary>
public static class SasVectors
{
    public const long Se = 1795687569;

    public static readonly DateTimeOffset BeforeExpiry = DateTimeOffset.FromUnixTimeSeconds(Se - 600);

    /// <summary>Bytes (i*7+3) mod 256, i = 0..31: stands in for a policy key.</summary>
    public const string PolicyKey = "AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dw=";

    /// <summary>Bytes (i*11+5) mod 256, i = 0..31: stands in for a device key.</summary>
    public const string DeviceKey = "BRAbJjE8R1JdaHN+iZSfqrXAy9bh7PcCDRgjLjlET1o=";

    public const string OwnerSig = "H7Jn7ORZh46F2KULFpbY68RBtQRwslCi2bULP2%2FVAEQ%3D";

    /// <summary>Node service SDK order: sr, sig, skn, se.</summary>
    public const string Owner = $"SharedAccessSignature sr=localhost&sig={OwnerSig}&skn=iothubowner&se=1795687569";

    public const string Dev1Sig = "ig5kgvR8A4vEG4HIFx%2F0MYlufParMPIIw4x9ka5GpHM%3D";

    /// <summary>Node device SDK order: sr, sig, se; <c>sr</c> with <c>%2F</c>.</summary>
    public const string Dev1 = $"SharedAccessSignature sr=localhost%2Fdevices%2Fdev1&sig={Dev1Sig}&se=1795687569";

    /// <summary>The same device and key, <c>sr</c> escaped with lowercase <c>%2f</c> (as the docs show): a different signature.</summary>
    public const string Dev1Lower = "SharedAccessSignature sr=localhost%2fdevices%2fdev1&sig=6DmxA439KeQ3xo85cuVufcXKVtNxjuI9z2alxUa%2FMWU%3D&se=1795687569";

    /// <summary>The id with every allowed special character, encoded by <c>encodeURIComponent</c>.</summary>
    public const string SpecialId = "a-b:c.d+e%f_g#h*i?j!k(l)m,n=o@p;q$r'";

    public const string Special =
        "SharedAccessSignature sr=localhost%2Fdevices%2Fa-b%3Ac.d%2Be%25f_g%23h*i%3Fj!k(l)m%2Cn%3Do%40p%3Bq%24r'&sig=48KwQ0ZwDmRiFVqUYHpS0Y7exD1XPugcbdIVI9iwzsE%3D&se=1795687569";
}
