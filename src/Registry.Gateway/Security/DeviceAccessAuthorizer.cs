using Registry.Abstractions;

namespace Registry.Gateway.Security;

/// <summary>
/// The device rule of IoT Hub's SAS model, in one place for every endpoint marked with
/// <see cref="DeviceEndpointExtensions.RequireDeviceAccess{TBuilder}"/>: may this token act as this device?
/// <list type="bullet">
/// <item>A token without <c>skn</c> is signed with the device's own primary or secondary key, its <c>sr</c> names
/// <c>{HostName}/devices/{deviceId}</c> (the id compared exactly: ids are case-sensitive), and it grants only
/// DeviceConnect for that one device.</item>
/// <item>A token with <c>skn</c> is signed by a policy that holds DeviceConnect and whose audience covers the device.</item>
/// <item>Either way the device must be registered and enabled; a disabled device is refused whoever signed.</item>
/// </list>
/// </summary>
public sealed class DeviceAccessAuthorizer
{
    private readonly SharedAccessAuthorizer _tokens;
    private readonly DeviceCredentialCache _devices;

    internal DeviceAccessAuthorizer(SharedAccessAuthorizer tokens, DeviceCredentialCache devices)
    {
        _tokens = tokens;
        _devices = devices;
    }

    /// <summary>
    /// For a request to a device endpoint: <paramref name="requestPath"/> is the decoded path the audience must cover
    /// (e.g. <c>/devices/dev1/messages/events</c>); <paramref name="deviceId"/> the device that path addresses.
    /// </summary>
    public async ValueTask<AccessDecision> AuthorizeAsync(string? token, string deviceId, string requestPath)
    {
        if (!_tokens.TryGetCached(token, out var validated))
        {
            // Everything that needs no grain call comes first, so garbage never activates a device grain.
            if (!SharedAccessSignature.TryParse(token, out var sas))
            {
                return AccessDecision.Refused("malformed token");
            }
            if (_tokens.IsExpired(sas))
            {
                return AccessDecision.Refused("expired token");
            }
            if (!sas.IsValidFor(_tokens.HostName, requestPath))
            {
                return AccessDecision.Refused("audience does not cover the path");
            }
            AccessDecision validation;
            if (sas.KeyName is not null)
            {
                validation = _tokens.ValidatePolicyToken(sas, out validated);
            }
            else if (!NamesDevice(sas.DecodedResource, deviceId))
            {
                return AccessDecision.Refused("device token for another device");
            }
            else if (await _devices.GetAsync(deviceId) is not { } device)
            {
                return AccessDecision.Refused("device not registered");
            }
            else
            {
                validation = _tokens.ValidateDeviceToken(sas, deviceId, device, out validated);
            }
            if (!validation.IsGranted)
            {
                return validation;
            }
            _tokens.Remember(token!, validated!);
        }

        var common = _tokens.CheckExpiryAndAudience(validated!, requestPath);
        if (!common.IsGranted)
        {
            return common;
        }
        if (validated!.Policy is { } policy)
        {
            if ((policy.Rights & AccessRights.DeviceConnect) == 0)
            {
                return AccessDecision.Refused($"policy {policy.KeyName} lacks DeviceConnect");
            }
        }
        else if (validated.DeviceId != deviceId || !NamesDevice(validated.DecodedResource, deviceId))
        {
            return AccessDecision.Refused("device token for another device");
        }

        // Cached for a few seconds: a disable or a key change takes effect within DeviceCacheDuration.
        var current = await _devices.GetAsync(deviceId);
        if (current is null)
        {
            return AccessDecision.Refused("device not registered");
        }
        if (current.Status != DeviceStatus.Enabled)
        {
            return AccessDecision.Refused("device disabled");
        }
        if (validated.DeviceKey is { } key && !current.HasKey(key))
        {
            return AccessDecision.Refused("device key changed since the token was checked");
        }
        return AccessDecision.Granted with { KeyFingerprint = validated.KeyFingerprint };
    }

    /// <summary>
    /// Whether the decoded <c>sr</c> is <c>{HostName}/devices/{deviceId}</c> or a path below it: host and
    /// <c>devices</c> case-insensitively, the id exactly.
    /// </summary>
    internal bool NamesDevice(string decodedResource, string deviceId)
    {
        var prefix = _tokens.HostName + "/devices/";
        if (!decodedResource.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var rest = decodedResource.AsSpan(prefix.Length);
        var end = rest.IndexOf('/');
        return (end < 0 ? rest : rest[..end]).SequenceEqual(deviceId);
    }
}
