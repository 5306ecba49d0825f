using System.Globalization;
using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>Translates between IoT Hub's Device JSON and the domain's DeviceIdentity / DeviceIdentityInput.</summary>
internal static class DeviceWireMapper
{
    public static DeviceJson ToJson(DeviceIdentity device) => new()
    {
        DeviceId = device.DeviceId,
        GenerationId = device.GenerationId,
        Etag = device.ETag,
        ConnectionState = WireEnums.Write(device.ConnectionState),
        Status = WireEnums.Write(device.Status),
        StatusReason = device.StatusReason,
        ConnectionStateUpdatedTime = FormatDate(device.ConnectionStateUpdatedTime),
        StatusUpdatedTime = FormatDate(device.StatusUpdatedTime),
        LastActivityTime = FormatDate(device.LastActivityTime),
        CloudToDeviceMessageCount = device.CloudToDeviceMessageCount,
        // Both credential objects are always present, with nulls, as IoT Hub answers them.
        Authentication = new AuthenticationJson
        {
            SymmetricKey = new SymmetricKeyJson
            {
                PrimaryKey = device.Authentication.SymmetricKey?.PrimaryKey,
                SecondaryKey = device.Authentication.SymmetricKey?.SecondaryKey,
            },
            X509Thumbprint = new X509ThumbprintJson
            {
                PrimaryThumbprint = device.Authentication.X509Thumbprint?.PrimaryThumbprint,
                SecondaryThumbprint = device.Authentication.X509Thumbprint?.SecondaryThumbprint,
            },
            Type = WireEnums.Write(device.Authentication.Type),
        },
        Capabilities = new CapabilitiesJson { IotEdge = device.Capabilities.IotEdge },
        DeviceScope = device.DeviceScope,
        ParentScopes = device.ParentScopes,
    };

    /// <summary>
    /// The writable fields of a PUT body for the device at <paramref name="pathId"/>. A body id other than the
    /// path's is refused; a missing one means the path's.
    /// </summary>
    public static DeviceIdentityInput ToInput(DeviceRequestJson body, string pathId)
    {
        if (body.DeviceId is not null && !string.Equals(body.DeviceId, pathId, StringComparison.Ordinal))
        {
            throw RegistryException.Invalid($"The deviceId '{body.DeviceId}' in the body does not match the device id '{pathId}' in the path.");
        }
        return ToInput(pathId, body);
    }

    /// <summary>Shared by PUT and bulk items: enums are checked here, keys and ids by the device grain.</summary>
    public static DeviceIdentityInput ToInput(string deviceId, DeviceFieldsJson fields) => new()
    {
        DeviceId = deviceId,
        Status = WireEnums.ReadStatus(fields.Status),
        StatusReason = fields.StatusReason,
        Authentication = ToAuthentication(fields.Authentication),
        Capabilities = fields.Capabilities is null ? null : new DeviceCapabilities(fields.Capabilities.IotEdge ?? false),
        DeviceScope = fields.DeviceScope,
        // Null entries are passed on so the grain's validation refuses them with its own message.
        ParentScopes = fields.ParentScopes?.ToArray()!,
    };

    /// <summary>
    /// Empty keys ("") are Node's way of asking for generated keys, so they become null; an absent
    /// authentication stays null (generate). An absent type reads as selfSigned when thumbprints are sent (Node's
    /// x509 samples send no type), as sas otherwise; an explicit type is passed on for the grain to check.
    /// </summary>
    public static AuthenticationMechanism? ToAuthentication(AuthenticationJson? json)
    {
        if (json is null)
        {
            return null;
        }
        var primaryKey = DeviceValidation.Blank(json.SymmetricKey?.PrimaryKey);
        var secondaryKey = DeviceValidation.Blank(json.SymmetricKey?.SecondaryKey);
        var primaryThumb = DeviceValidation.Blank(json.X509Thumbprint?.PrimaryThumbprint);
        var secondaryThumb = DeviceValidation.Blank(json.X509Thumbprint?.SecondaryThumbprint);
        var hasThumbprints = primaryThumb is not null || secondaryThumb is not null;
        return new AuthenticationMechanism(
            json.Type is null && hasThumbprints ? AuthenticationType.SelfSigned : WireEnums.ReadAuthenticationType(json.Type),
            primaryKey is null && secondaryKey is null ? null : new SymmetricKey(primaryKey, secondaryKey),
            hasThumbprints ? new X509Thumbprint(primaryThumb, secondaryThumb) : null);
    }

    /// <summary>ISO 8601 in UTC with <c>Z</c>; fractions only when present, so "never" is <c>0001-01-01T00:00:00Z</c>.</summary>
    public static string FormatDate(DateTime value)
    {
        var utc = value.Kind switch
        {
            DateTimeKind.Local => value.ToUniversalTime(),
            // Grains store UTC; an unspecified kind (e.g. DateTime.MinValue) is read as UTC, never shifted.
            _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
        };
        return utc.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
    }
}
