using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Registry.Abstractions;

namespace Registry.Gateway.Security;

/// <summary>The outcome of an access check. <see cref="Reason"/> is for Debug logs only, never for the caller.</summary>
public readonly record struct AccessDecision(bool IsGranted, string Reason)
{
    public static AccessDecision Granted { get; } = new(true, "granted");

    /// <summary>
    /// For a device granted by a token signed with one of its own keys: <see cref="Registry.Abstractions.DeviceKeyFingerprint"/>
    /// of that key, which the edge passes to the device grain so a later re-key refuses the device there too.
    /// Null for policy-signed tokens and refusals.
    /// </summary>
    public string? KeyFingerprint { get; init; }

    /// <summary>
    /// For a granted token: its <c>se</c> (Unix seconds), so a connection opened with it can end when it expires
    /// (<see cref="SharedAccessSignature.ExpiryOf"/>). Null for refusals.
    /// </summary>
    public long? ExpiresOn { get; init; }

    public static AccessDecision Refused(string reason) => new(false, reason);
}

/// <summary>
/// What a token was found to be once its signature checked out: everything about it that does not depend on the
/// request path, kept per token string until the token expires. Who signed it is either a policy or a device key.
/// </summary>
internal sealed class ValidatedToken(string decodedResource, long expiresOn, SharedAccessPolicy? policy, string? deviceId, string? deviceKey)
{
    public string DecodedResource => decodedResource;

    public long ExpiresOn => expiresOn;

    public SharedAccessPolicy? Policy => policy;

    /// <summary>For a device-key token: the device named by <c>sr</c>.</summary>
    public string? DeviceId => deviceId;

    /// <summary>For a device-key token: the key that verified it, so a later key change invalidates it.</summary>
    public string? DeviceKey => deviceKey;

    /// <summary>For a device-key token: the fingerprint of <see cref="DeviceKey"/>, computed once per cached token.</summary>
    public string? KeyFingerprint { get; } = deviceKey is null ? null : Registry.Abstractions.DeviceKeyFingerprint.Of(deviceKey);

    public override string ToString() => policy is null ? $"device token for {deviceId}" : $"policy token of {policy.KeyName}";
}

/// <summary>
/// Checks SAS tokens against the shared access policies and caches every token that verified, keyed by the exact
/// token string, until it expires: a client that re-sends its token pays one dictionary lookup, not an HMAC.
/// Path-dependent parts (audience, rights of the endpoint) are checked on every request, cached or not.
/// Token expiry and cache ages read the registry's one <see cref="TimeProvider"/>.
/// </summary>
internal sealed class SharedAccessAuthorizer(SharedAccessPolicies policies, IOptions<SharedAccessOptions> options, [FromKeyedServices(RegistryClock.Key)] TimeProvider clock)
{
    private readonly SharedAccessOptions _options = options.Value;
    private readonly BoundedCache<ValidatedToken> _tokens = new(options.Value.TokenCacheSize);
    private long _signatureChecks;

    public string HostName => _options.HostName;

    /// <summary>How many HMACs were computed; lets tests prove the hot path uses the cache.</summary>
    internal long SignatureChecks => Interlocked.Read(ref _signatureChecks);

    internal int CachedTokens => _tokens.Count;

    /// <summary>
    /// Service endpoints (no device in the route): only a policy token can pass, with an audience covering
    /// <paramref name="path"/> and rights covering <paramref name="required"/>. Device-key tokens grant only
    /// DeviceConnect on their own device's endpoints, so they are refused here without any work.
    /// </summary>
    public AccessDecision AuthorizeService(string? authorization, string path, AccessRights required)
    {
        if (!TryGetCached(authorization, out var token))
        {
            if (!SharedAccessSignature.TryParse(authorization, out var sas))
            {
                return AccessDecision.Refused("malformed token");
            }
            if (sas.KeyName is null)
            {
                return AccessDecision.Refused("device token on a service endpoint");
            }
            var validation = ValidatePolicyToken(sas, out token);
            if (!validation.IsGranted)
            {
                return validation;
            }
            Remember(authorization!, token!);
        }
        if (token!.Policy is not { } policy)
        {
            return AccessDecision.Refused("device token on a service endpoint");
        }
        var common = CheckExpiryAndAudience(token, path);
        if (!common.IsGranted)
        {
            return common;
        }
        return new RequiredAccess(required).IsSatisfiedBy(policy.Rights)
            ? AccessDecision.Granted
            : AccessDecision.Refused($"policy {policy.KeyName} lacks {required}");
    }

    internal bool TryGetCached(string? authorization, [NotNullWhen(true)] out ValidatedToken? token)
    {
        token = null;
        // A policy token validated before its policy was replaced (a regenerated key) is validated again.
        return authorization is not null && _tokens.TryGet(authorization, NowSeconds, out token)
            && (token.Policy is null || (policies.TryGet(token.Policy.KeyName, out var current) && ReferenceEquals(current, token.Policy)));
    }

    /// <summary>Expiry, policy lookup and the HMAC with the policy's primary then secondary key.</summary>
    internal AccessDecision ValidatePolicyToken(SharedAccessSignature sas, out ValidatedToken? token)
    {
        token = null;
        if (sas.IsExpired(Now))
        {
            return AccessDecision.Refused("expired token");
        }
        if (!policies.TryGet(sas.KeyName!, out var policy))
        {
            return AccessDecision.Refused("unknown policy");
        }
        if (!IsSignedWith(sas, policy.PrimaryKeyBytes) && (policy.SecondaryKeyBytes is null || !IsSignedWith(sas, policy.SecondaryKeyBytes)))
        {
            return AccessDecision.Refused($"signature does not match policy {policy.KeyName}");
        }
        token = new ValidatedToken(sas.DecodedResource, sas.ExpiresOn, policy, null, null);
        return AccessDecision.Granted;
    }

    /// <summary>Expiry and the HMAC with the device's primary then secondary key.</summary>
    internal AccessDecision ValidateDeviceToken(SharedAccessSignature sas, string deviceId, DeviceCredentials device, out ValidatedToken? token)
    {
        token = null;
        if (sas.IsExpired(Now))
        {
            return AccessDecision.Refused("expired token");
        }
        var key = Verifies(sas, device.PrimaryKey) ? device.PrimaryKey : Verifies(sas, device.SecondaryKey) ? device.SecondaryKey : null;
        if (key is null)
        {
            return AccessDecision.Refused("signature does not match the device's keys");
        }
        token = new ValidatedToken(sas.DecodedResource, sas.ExpiresOn, null, deviceId, key);
        return AccessDecision.Granted;
    }

    /// <summary>Checked on every request, also for cached tokens: a cache entry never outlives the token.</summary>
    internal AccessDecision CheckExpiryAndAudience(ValidatedToken token, string path)
    {
        if (SharedAccessSignature.IsExpired(token.ExpiresOn, Now))
        {
            return AccessDecision.Refused("expired token");
        }
        return SharedAccessSignature.IsAudiencePrefix(token.DecodedResource, _options.HostName, path)
            ? AccessDecision.Granted
            : AccessDecision.Refused("audience does not cover the path");
    }

    internal void Remember(string authorization, ValidatedToken token)
    {
        var expiresAt = token.ExpiresOn > long.MaxValue / 2 ? long.MaxValue / 2 : token.ExpiresOn + (long)SharedAccessSignature.MaxClockSkew.TotalSeconds + 1;
        _tokens.Set(authorization, token, expiresAt, NowSeconds);
    }

    internal bool IsExpired(SharedAccessSignature sas) => sas.IsExpired(Now);

    private DateTimeOffset Now => clock.GetUtcNow();

    private long NowSeconds => Now.ToUnixTimeSeconds();

    private bool IsSignedWith(SharedAccessSignature sas, ReadOnlySpan<byte> key)
    {
        Interlocked.Increment(ref _signatureChecks);
        return sas.IsSignedWith(key);
    }

    private bool Verifies(SharedAccessSignature sas, string? base64Key)
    {
        Span<byte> key = stackalloc byte[Abstractions.Base64Key.BufferBytes];
        return Abstractions.Base64Key.TryDecode(base64Key, key, out var length) && IsSignedWith(sas, key[..length]);
    }
}
