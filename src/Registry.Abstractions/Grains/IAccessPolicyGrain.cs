namespace Registry.Abstractions;

/// <summary>
/// The shared access policies of a durable registry cluster, kept in the cluster's storage (key 0): every gateway
/// accepts the same keys, and a key regenerated here is honoured by all of them after their next refresh. IoT Hub's
/// keys are the hub's, not a front end's; one file per gateway would let them drift apart.
/// </summary>
[Alias("registry.IAccessPolicyGrain")]
public interface IAccessPolicyGrain : IGrainWithIntegerKey
{
    /// <summary>The stored policies, or null before any gateway started.</summary>
    [Alias("Get")]
    Task<AccessPolicySet?> Get();

    /// <summary>
    /// Stores <paramref name="proposed"/> unless policies are stored already, and answers what is stored: of several
    /// gateways starting on fresh storage, the first one's generated keys are everyone's.
    /// </summary>
    [Alias("Initialize")]
    Task<AccessPolicySet> Initialize(AccessPolicySet proposed);

    /// <summary>
    /// Replaces one key of policy <paramref name="keyName"/> with a fresh random one, as IoT Hub's key regeneration does;
    /// tokens signed with the old key are refused once the gateways refreshed. 404 when no such policy is stored.
    /// </summary>
    [Alias("Regenerate")]
    Task<AccessPolicySet> Regenerate(string keyName, AccessKeyKind key);
}

/// <summary>Which key of a policy.</summary>
[GenerateSerializer, Alias("registry.AccessKeyKind")]
public enum AccessKeyKind
{
    Primary = 0,
    Secondary = 1,
}

/// <summary>The cluster's policies at one <see cref="Version"/> (1 when first stored, one more per regeneration).</summary>
[GenerateSerializer, Immutable, Alias("registry.AccessPolicySet")]
public sealed record AccessPolicySet(
    [property: Id(0)] IReadOnlyList<AccessPolicyRecord> Policies,
    [property: Id(1)] long Version);

/// <summary>One policy: its name, its base64 keys and its rights as IoT Hub names them (<c>RegistryRead, ServiceConnect</c>).</summary>
[GenerateSerializer, Immutable, Alias("registry.AccessPolicyRecord")]
public sealed record AccessPolicyRecord(
    [property: Id(0)] string KeyName,
    [property: Id(1)] string PrimaryKey,
    [property: Id(2)] string? SecondaryKey,
    [property: Id(3)] string Rights);
