using System.Text.RegularExpressions;

namespace Registry.Abstractions;

/// <summary>
/// IoT Hub's identity rules (docs/wire-contract.md §4) in one place: the gateway checks ids before touching a grain,
/// the device grain checks everything before it writes.
/// </summary>
public static partial class DeviceValidation
{
    public const int MaxIdLength = 128;
    public const int MaxStatusReasonLength = 128;

    /// <summary>
    /// <c>ms-azure-iot-edge://</c> (20) + a 128-character id + <c>-</c> + a generation id (IoT Hub's and this
    /// registry's are 18-19 digits), with room to spare.
    /// </summary>
    public const int MaxScopeLength = 192;

    /// <summary>IoT Hub gives a device (leaf or nested edge) one parent; <c>parentScopes</c> holds its scope.</summary>
    public const int MaxParentScopes = 1;

    // \z, never $: $ also matches before a final "\n", which let "dev1\n" (and a 129th character) through.
    [GeneratedRegex(@"\A[A-Za-z0-9\-:.+%_#*?!(),=@;$']{1,128}\z", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();

    [GeneratedRegex(@"\A(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})\z", RegexOptions.CultureInvariant)]
    private static partial Regex ThumbprintPattern();

    /// <summary>
    /// IoT Hub's id rule, plus: not <c>.</c> or <c>..</c>, which every HTTP stack removes from a path as dot
    /// segments, so such a device could be created (bulk) but never addressed by <c>/devices/{id}</c>.
    /// </summary>
    public static bool IsValidDeviceId(string? deviceId) =>
        deviceId is not null and not "." and not ".." && IdPattern().IsMatch(deviceId);

    /// <summary>Throws <see cref="RegistryException"/> (ArgumentInvalid) unless the id follows IoT Hub's rules.</summary>
    public static void EnsureValidDeviceId(string? deviceId)
    {
        if (!IsValidDeviceId(deviceId))
        {
            throw RegistryException.Invalid(
                $"The device id '{deviceId}' is invalid: 1-128 characters of letters, digits, -:.+%_#*?!(),=@$' and semicolon, other than . and ..");
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
        EnsureScopes(input);

        var auth = input.Authentication;
        if (auth is not null && !Enum.IsDefined(auth.Type))
        {
            // The wire takes only the type names; a client app's number outside them was stored as sas (a review, 2026-12-07).
            throw RegistryException.Invalid("authentication type must be sas, selfSigned, certificateAuthority or none.");
        }
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
            // The gateway reads an absent type as selfSigned when thumbprints come; any other type is a conflict, refused.
            if (auth!.Type is not AuthenticationType.SelfSigned)
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

    /// <summary>
    /// IoT Hub-like bounds on scopes, which are otherwise free text stored and listed with every device: a scope is
    /// <c>ms-azure-iot-edge://{id}-{generationId}</c>, so one longer than <see cref="MaxScopeLength"/> names no device;
    /// a device has at most <see cref="MaxParentScopes"/> parent (IoT Hub: a child device has one parent).
    /// </summary>
    private static void EnsureScopes(DeviceIdentityInput input)
    {
        if (input.DeviceScope is { } scope && !IsBoundedScope(scope))
        {
            throw RegistryException.Invalid($"deviceScope must be at most {MaxScopeLength} characters, without control characters.");
        }
        if (input.DeviceScope is { } padded && HasOuterWhitespace(padded))
        {
            throw RegistryException.Invalid("deviceScope must not begin or end with whitespace.");
        }
        if (input.ParentScopes is not { } parents)
        {
            return;
        }
        if (parents.Any(s => s is null))
        {
            throw RegistryException.Invalid("parentScopes must not contain null.");
        }
        if (parents.Count > MaxParentScopes)
        {
            throw RegistryException.Invalid($"parentScopes holds {parents.Count} scopes, but a device has at most {MaxParentScopes} parent.");
        }
        if (parents.Any(s => s.Length == 0))
        {
            // An empty scope names no parent; [] says "none" (a review saw [""] stored as a parent, 2026-12-07).
            throw RegistryException.Invalid("Each of parentScopes must name a scope: an empty one names no parent (send [] for none).");
        }
        if (!parents.All(IsBoundedScope))
        {
            throw RegistryException.Invalid($"Each of parentScopes must be at most {MaxScopeLength} characters, without control characters.");
        }
        if (parents.Any(HasOuterWhitespace))
        {
            throw RegistryException.Invalid("Each of parentScopes must not begin or end with whitespace.");
        }
    }

    /// <summary>A scope with a space around it names no device, yet would slip past the own-scope check and be stored.</summary>
    private static bool HasOuterWhitespace(string scope) =>
        scope.Length > 0 && (char.IsWhiteSpace(scope[0]) || char.IsWhiteSpace(scope[^1]));

    private static bool IsBoundedScope(string scope) =>
        scope.Length <= MaxScopeLength && !scope.Any(char.IsControl);


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
