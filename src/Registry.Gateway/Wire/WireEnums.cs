using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>
/// The exact spellings IoT Hub puts on the wire (status lowercase, connectionState capitalized, authentication
/// camelCase). Reading is case-insensitive; an unknown value is the caller's mistake, so ArgumentInvalid.
/// </summary>
internal static class WireEnums
{
    public static string Write(DeviceStatus status) => status switch
    {
        DeviceStatus.Enabled => "enabled",
        DeviceStatus.Disabled => "disabled",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static string Write(DeviceConnectionState state) => state switch
    {
        DeviceConnectionState.Disconnected => "Disconnected",
        DeviceConnectionState.Connected => "Connected",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    public static string Write(AuthenticationType type) => type switch
    {
        AuthenticationType.Sas => "sas",
        AuthenticationType.SelfSigned => "selfSigned",
        AuthenticationType.CertificateAuthority => "certificateAuthority",
        AuthenticationType.None => "none",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    public static string Write(ImportMode mode) => mode switch
    {
        ImportMode.CreateOrUpdate => "createOrUpdate",
        ImportMode.Create => "create",
        ImportMode.Update => "update",
        ImportMode.UpdateIfMatchETag => "updateIfMatchETag",
        ImportMode.CreateOrUpdateIfMatchETag => "createOrUpdateIfMatchETag",
        ImportMode.Delete => "delete",
        ImportMode.DeleteIfMatchETag => "deleteIfMatchETag",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    /// <summary>An absent status means enabled, as IoT Hub registers devices.</summary>
    public static DeviceStatus ReadStatus(string? value) => value is null
        ? DeviceStatus.Enabled
        : Read<DeviceStatus>(value, "status", "enabled or disabled");

    /// <summary>An absent type reads as sas; the device grain turns it into selfSigned when thumbprints come with it.</summary>
    public static AuthenticationType ReadAuthenticationType(string? value) => value is null
        ? AuthenticationType.Sas
        : Read<AuthenticationType>(value, "authentication.type", "sas, selfSigned, certificateAuthority or none");

    /// <summary>An absent importMode means createOrUpdate (IoT Hub docs); null for a mode the registry does not know.</summary>
    public static ImportMode? ReadImportMode(string? value) =>
        value is null ? ImportMode.CreateOrUpdate : TryRead<ImportMode>(value);

    private static T Read<T>(string value, string field, string allowed) where T : struct, Enum =>
        TryRead<T>(value) ?? throw RegistryException.Invalid($"{field} '{value}' is invalid: expected {allowed}.");

    // Enum.TryParse alone would also accept numbers ("1") and comma lists; only names are valid on the wire.
    private static T? TryRead<T>(string value) where T : struct, Enum
    {
        foreach (var name in Enum.GetNames<T>())
        {
            if (string.Equals(name, value, StringComparison.OrdinalIgnoreCase))
            {
                return Enum.Parse<T>(name);
            }
        }
        return null;
    }
}
