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
        var (decision, readDevice) = await AuthorizeOnceAsync(token, deviceId, requestPath, null);
        // A refusal the cached device decided (unknown, disabled, other keys) is decided again on a fresh read of the
        // device once the cached one is a second old: a device created, enabled or re-keyed since is served.
        if (!decision.IsGranted && readDevice && _devices.TryRefresh(deviceId, out var fresh))
        {
            (decision, _) = await AuthorizeOnceAsync(token, deviceId, requestPath, fresh);
        }
        return decision;
    }

    private async ValueTask<(AccessDecision Decision, bool ReadDevice)> AuthorizeOnceAsync(
        string? token, string deviceId, string requestPath, Task<DeviceCredentials?>? fresh)
    {
        // Read only where needed: garbage never activates a device grain.
        Task<DeviceCredentials?> Device() => fresh ?? _devices.GetAsync(deviceId);
        if (!_tokens.TryGetCached(token, out var validated))
        {
            // Everything that needs no grain call comes first, so garbage never activates a device grain.
            if (!SharedAccessSignature.TryParse(token, out var sas))
            {
                return (AccessDecision.Refused("malformed token"), false);
            }
            if (_tokens.IsExpired(sas))
            {
                return (AccessDecision.Refused("expired token"), false);
            }
            if (!sas.IsValidFor(_tokens.HostName, requestPath))
            {
                return (AccessDecision.Refused("audience does not cover the path"), false);
            }
            AccessDecision validation;
            if (sas.KeyName is not null)
            {
                validation = _tokens.ValidatePolicyToken(sas, out validated);
            }
            else if (!NamesDevice(sas.DecodedResource, deviceId))
            {
                return (AccessDecision.Refused("device token for another device"), false);
            }
            else if (await Device() is not { } credentials)
            {
                return (AccessDecision.Refused("device not registered"), true);
            }
            else
            {
                validation = _tokens.ValidateDeviceToken(sas, deviceId, credentials, out validated);
            }
            if (!validation.IsGranted)
            {
                // A device token's signature was checked against the device's cached keys; a policy's, against no device.
                return (validation, sas.KeyName is null);
            }
            _tokens.Remember(token!, validated!);
        }

        var common = _tokens.CheckExpiryAndAudience(validated!, requestPath);
        if (!common.IsGranted)
        {
            return (common, false);
        }
        if (validated!.Policy is { } policy)
        {
            if ((policy.Rights & AccessRights.DeviceConnect) == 0)
            {
                return (AccessDecision.Refused($"policy {policy.KeyName} lacks DeviceConnect"), false);
            }
        }
        else if (validated.DeviceId != deviceId || !NamesDevice(validated.DecodedResource, deviceId))
        {
            return (AccessDecision.Refused("device token for another device"), false);
        }

        // Cached for a few seconds: a disable or a key change takes effect within DeviceCacheDuration.
        var current = await Device();
        if (current is null)
        {
            return (AccessDecision.Refused("device not registered"), true);
        }
        if (current.Status != DeviceStatus.Enabled)
        {
            return (AccessDecision.Refused("device disabled"), true);
        }
        if (validated.DeviceKey is { } key && !current.HasKey(key))
        {
            return (AccessDecision.Refused("device key changed since the token was checked"), true);
        }
        return (AccessDecision.Granted with { KeyFingerprint = validated.KeyFingerprint, ExpiresOn = validated.ExpiresOn }, true);
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
