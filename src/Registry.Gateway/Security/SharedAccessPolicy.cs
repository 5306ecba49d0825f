using System.Diagnostics.CodeAnalysis;
using Registry.Abstractions;

namespace Registry.Gateway.Security;

/// <summary>
/// One of IoT Hub's shared access policies: a named pair of keys and the rights a token signed with either grants.
/// A class rather than a record so that <see cref="ToString"/> (and so any log line) never prints a key.
/// </summary>
public sealed class SharedAccessPolicy
{
    /// <summary>IoT Hub's default policies (docs <c>iot-hub-devguide-security.md</c>), generated on a fresh data folder.</summary>
    public static IReadOnlyList<(string KeyName, AccessRights Rights)> Defaults { get; } =
    [
        ("iothubowner", AccessRights.RegistryWrite | AccessRights.ServiceConnect | AccessRights.DeviceConnect),
        ("service", AccessRights.ServiceConnect),
        ("device", AccessRights.DeviceConnect),
        ("registryRead", AccessRights.RegistryRead),
        ("registryReadWrite", AccessRights.RegistryWrite),
    ];

    public const string OwnerKeyName = "iothubowner";

    private static readonly AccessRights[] NamedRights =
        [AccessRights.RegistryRead, AccessRights.RegistryWrite, AccessRights.ServiceConnect, AccessRights.DeviceConnect];

    /// <summary>Checks the name and keys (base64, 16–64 bytes decoded, as for device keys); throws ArgumentException otherwise.</summary>
    public SharedAccessPolicy(string keyName, string primaryKey, string? secondaryKey, AccessRights rights)
    {
        if (string.IsNullOrWhiteSpace(keyName) || keyName.Length > 64 || keyName.Any(c => !char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.')))
        {
            throw new ArgumentException($"Policy name '{keyName}' must be 1-64 ASCII letters, digits, '-', '_' or '.'.", nameof(keyName));
        }
        if (rights == AccessRights.None || (rights & ~(AccessRights.RegistryWrite | AccessRights.ServiceConnect | AccessRights.DeviceConnect)) != 0)
        {
            throw new ArgumentException($"Policy '{keyName}' must grant at least one known right.", nameof(rights));
        }
        KeyName = keyName;
        PrimaryKey = primaryKey;
        SecondaryKey = string.IsNullOrEmpty(secondaryKey) ? null : secondaryKey;
        Rights = rights;
        PrimaryKeyBytes = DecodeKey(keyName, "primary", primaryKey);
        SecondaryKeyBytes = SecondaryKey is null ? null : DecodeKey(keyName, "secondary", SecondaryKey);
    }

    public string KeyName { get; }

    /// <summary>Base64.</summary>
    public string PrimaryKey { get; }

    /// <summary>Base64, or null when the policy has only a primary key.</summary>
    public string? SecondaryKey { get; }

    public AccessRights Rights { get; }

    internal byte[] PrimaryKeyBytes { get; }

    internal byte[]? SecondaryKeyBytes { get; }

    /// <summary>A policy with two fresh 32-byte random keys, the size IoT Hub generates.</summary>
    public static SharedAccessPolicy Generate(string keyName, AccessRights rights) =>
        new(keyName, Base64Key.Generate(), Base64Key.Generate(), rights);

    /// <summary>The owner connection string the SDKs take: <c>HostName=..;SharedAccessKeyName=..;SharedAccessKey=..</c>.</summary>
    public string ConnectionString(string hostName) =>
        $"HostName={hostName};SharedAccessKeyName={KeyName};SharedAccessKey={PrimaryKey}";

    /// <summary>
    /// Every named right the value includes, e.g. <c>RegistryRead, RegistryWrite, ServiceConnect</c>, so a file lists
    /// RegistryRead explicitly even though RegistryWrite includes it (the enum's own ToString would hide it).
    /// </summary>
    public static string FormatRights(AccessRights rights) =>
        string.Join(", ", NamedRights.Where(r => (rights & r) == r));

    /// <summary>Reads a comma-separated list of right names, case-insensitively; false for an unknown name or none at all.</summary>
    public static bool TryParseRights(string? text, out AccessRights rights)
    {
        rights = AccessRights.None;
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var known = NamedRights.FirstOrDefault(r => r.ToString().Equals(part, StringComparison.OrdinalIgnoreCase));
            if (known == AccessRights.None)
            {
                return false;
            }
            rights |= known;
        }
        return rights != AccessRights.None;
    }

    public override string ToString() => $"{KeyName} ({FormatRights(Rights)})";

    private static byte[] DecodeKey(string keyName, string which, string key) =>
        Base64Key.Decode(key) ?? throw new ArgumentException(
            $"The {which} key of policy '{keyName}' must be base64 of {Base64Key.MinBytes}-{Base64Key.MaxBytes} bytes.");
}

/// <summary>
/// The shared access policies this registry accepts, looked up by the token's <c>skn</c> (exact, case-sensitive).
/// A gateway of a durable cluster <see cref="Replace"/>s them when the cluster's stored policies change (a regenerated key).
/// </summary>
public sealed class SharedAccessPolicies
{
    private volatile Dictionary<string, SharedAccessPolicy> _byName;

    public SharedAccessPolicies(IEnumerable<SharedAccessPolicy> policies) => _byName = ByName(policies);

    public IReadOnlyCollection<SharedAccessPolicy> All => _byName.Values;

    /// <summary>
    /// Swaps in a whole new set at once: a lookup sees the old set or the new one, never a mix. Tokens already validated
    /// with a policy that is no longer the current one of its name are checked again (<c>SharedAccessAuthorizer</c>).
    /// </summary>
    public void Replace(IEnumerable<SharedAccessPolicy> policies)
    {
        _byName = ByName(policies);
        Replaced?.Invoke();
    }

    /// <summary>After <see cref="Replace"/>: holders of what a policy's token granted (an MQTT session) check it again.</summary>
    public event Action? Replaced;

    private static Dictionary<string, SharedAccessPolicy> ByName(IEnumerable<SharedAccessPolicy> policies)
    {
        var byName = new Dictionary<string, SharedAccessPolicy>(StringComparer.Ordinal);
        foreach (var policy in policies)
        {
            if (!byName.TryAdd(policy.KeyName, policy))
            {
                throw new ArgumentException($"Policy '{policy.KeyName}' is defined twice.", nameof(policies));
            }
        }
        return byName;
    }

    /// <summary>IoT Hub's five default policies with fresh keys.</summary>
    public static SharedAccessPolicies GenerateDefaults() =>
        new(SharedAccessPolicy.Defaults.Select(d => SharedAccessPolicy.Generate(d.KeyName, d.Rights)));

    public bool TryGet(string keyName, [NotNullWhen(true)] out SharedAccessPolicy? policy) =>
        _byName.TryGetValue(keyName, out policy);
}
