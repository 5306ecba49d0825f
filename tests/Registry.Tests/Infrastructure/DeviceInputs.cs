using Registry.Abstractions;

namespace Registry.Tests.Infrastructure;

/// <summary>Small builders for device requests used across grain tests.</summary>
internal static class DeviceInputs
{
    public static readonly string Key16 = Convert.ToBase64String(new byte[16].Select((_, i) => (byte)(i + 1)).ToArray());
    public static readonly string Key32 = Convert.ToBase64String(new byte[32].Select((_, i) => (byte)(i + 7)).ToArray());
    public static readonly string Key64 = Convert.ToBase64String(new byte[64].Select((_, i) => (byte)(i + 3)).ToArray());
    public const string Sha1 = "0123456789abcdef0123456789abcdef01234567";
    public const string Sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    public static string NewId(string prefix = "dev") => $"{prefix}-{Guid.NewGuid():N}";

    public static DeviceIdentityInput Sas(string id, DeviceStatus status = DeviceStatus.Enabled) =>
        new() { DeviceId = id, Status = status };

    public static DeviceIdentityInput WithKeys(string id, string? primary, string? secondary) =>
        new() { DeviceId = id, Authentication = new AuthenticationMechanism(AuthenticationType.Sas, new SymmetricKey(primary, secondary), null) };

    public static DeviceIdentityInput WithThumbprints(string id, string? primary, string? secondary, AuthenticationType type = AuthenticationType.SelfSigned) =>
        new() { DeviceId = id, Authentication = new AuthenticationMechanism(type, null, new X509Thumbprint(primary, secondary)) };
}
