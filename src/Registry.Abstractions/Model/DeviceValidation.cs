using System.Text.RegularExpressions;

namespace Registry.Abstractions;

/// <summary>
/// IoT Hub's identity rules (wire spec §6) in one place: the gateway checks ids before touching a grain,
/// the device grain checks everything before it writes.
/// </summary>
public static partial class DeviceValidation
{
    public const int MaxIdLength = 128;
    public const int MaxStatusReasonLength = 128;

    [GeneratedRegex(@"^[A-Za-z0-9\-:.+%_#*?!(),=@;$']{1,128}$", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();

    [GeneratedRegex("^([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$", RegexOptions.CultureInvariant)]
    private static partial Regex ThumbprintPattern();

    public static bool IsValidDeviceId(string? deviceId) => deviceId is not null && IdPattern().IsMatch(deviceId);

    /// <summary>Throws <see cref="RegistryException"/> (ArgumentInvalid) unless the id follows IoT Hub's rules.</summary>
    public static void EnsureValidDeviceId(string? deviceId)
    {
        if (!IsValidDeviceId(deviceId))
        {
            throw RegistryException.Invalid(
                $"The device id '{deviceId}' is invalid: 1-128 characters of letters, digits and -:.+%_#*?!(),=@;$'.");
        }
    }

    /// <summary>
    /// Validates a requested identity and returns it with its authentication normalized: keys → sas,
    /// thumbprints → selfSigned, no credentials and no explicit type → sas with keys to generate (null keys).
    /// </summary>
    public static AuthenticationMechanism NormalizeAuthentication(DeviceIdentityInput input)
    {
        EnsureValidDeviceId(input.DeviceId);
        if (input.StatusReason is { Length: > MaxStatusReasonLength })
        {
            throw RegistryException.Invalid($"statusReason is longer than {MaxStatusReasonLength} characters.");
        }
        if (!Enum.IsDefined(input.Status))
        {
            throw RegistryException.Invalid("status must be enabled or disabled.");
        }
        if (input.ParentScopes is { } scopes && scopes.Any(s => s is null))
        {
            throw RegistryException.Invalid("parentScopes must not contain null.");
        }

        var auth = input.Authentication;
        var primaryKey = Blank(auth?.SymmetricKey?.PrimaryKey);
        var secondaryKey = Blank(auth?.SymmetricKey?.SecondaryKey);
        var primaryThumb = Blank(auth?.X509Thumbprint?.PrimaryThumbprint);
        var secondaryThumb = Blank(auth?.X509Thumbprint?.SecondaryThumbprint);
        var hasKeys = primaryKey is not null || secondaryKey is not null;
        var hasThumbs = primaryThumb is not null || secondaryThumb is not null;

        if (hasKeys && hasThumbs)
        {
            throw RegistryException.Invalid("A device cannot have both symmetric keys and X.509 thumbprints.");
        }
        if (hasKeys)
        {
            if (primaryKey is null || secondaryKey is null)
            {
                throw RegistryException.Invalid("Both primaryKey and secondaryKey must be set, or neither.");
            }
            EnsureKey(primaryKey, "primaryKey");
            EnsureKey(secondaryKey, "secondaryKey");
            if (auth!.Type is not AuthenticationType.Sas)
            {
                throw RegistryException.Invalid($"Authentication type {auth.Type} cannot carry symmetric keys.");
            }
            return new AuthenticationMechanism(AuthenticationType.Sas, new SymmetricKey(primaryKey, secondaryKey), null);
        }
        if (hasThumbs)
        {
            if (primaryThumb is not null && !ThumbprintPattern().IsMatch(primaryThumb))
            {
                throw RegistryException.Invalid("primaryThumbprint must be 40 or 64 hexadecimal characters.");
            }
            if (secondaryThumb is not null && !ThumbprintPattern().IsMatch(secondaryThumb))
            {
                throw RegistryException.Invalid("secondaryThumbprint must be 40 or 64 hexadecimal characters.");
            }
            if (primaryThumb is not null && secondaryThumb is not null && primaryThumb.Length != secondaryThumb.Length)
            {
                throw RegistryException.Invalid("primaryThumbprint and secondaryThumbprint must have the same length.");
            }
            // An absent type arrives as Sas and is normalized here, as IoT Hub does; an explicit conflicting one is refused.
            if (auth!.Type is AuthenticationType.CertificateAuthority or AuthenticationType.None)
            {
                throw RegistryException.Invalid($"Authentication type {auth.Type} cannot carry thumbprints.");
            }
            return new AuthenticationMechanism(AuthenticationType.SelfSigned, null, new X509Thumbprint(primaryThumb, secondaryThumb));
        }
        return auth?.Type switch
        {
            AuthenticationType.CertificateAuthority => new AuthenticationMechanism(AuthenticationType.CertificateAuthority, null, null),
            AuthenticationType.None => new AuthenticationMechanism(AuthenticationType.None, null, null),
            AuthenticationType.SelfSigned => throw RegistryException.Invalid("selfSigned authentication needs at least one thumbprint."),
            _ => new AuthenticationMechanism(AuthenticationType.Sas, null, null),
        };
    }

    /// <summary>Empty is absent: Node sends <c>""</c> for a key or thumbprint it wants the registry to choose.</summary>
    public static string? Blank(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static void EnsureKey(string key, string name)
    {
        Span<byte> decoded = stackalloc byte[Base64Key.BufferBytes];
        if (!Base64Key.TryDecode(key, decoded, out _))
        {
            throw RegistryException.Invalid(Base64Key.IsBase64(key)
                ? $"{name} must decode to {Base64Key.MinBytes}-{Base64Key.MaxBytes} bytes."
                : $"{name} is not valid base64.");
        }
    }
}
