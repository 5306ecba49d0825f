namespace Registry.Gateway;

/// <summary>IoT Hub's shared access rights (docs/wire-contract.md §7, C# <c>AccessRights</c>); RegistryWrite includes RegistryRead.</summary>
[Flags]
public enum AccessRights
{
    None = 0,
    RegistryRead = 1,
    RegistryWrite = 3,
    ServiceConnect = 4,
    DeviceConnect = 8,
}

/// <summary>
/// Endpoint metadata naming the right a caller needs, so the authentication middleware can enforce it per
/// endpoint without knowing the routes. Endpoints without it (e.g. <c>/healthz</c>) need no right.
/// </summary>
public sealed record RequiredAccess(AccessRights Rights)
{
    public static RequiredAccess RegistryRead { get; } = new(AccessRights.RegistryRead);

    public static RequiredAccess RegistryWrite { get; } = new(AccessRights.RegistryWrite);

    public static RequiredAccess ServiceConnect { get; } = new(AccessRights.ServiceConnect);

    /// <summary>Whether <paramref name="granted"/> covers every bit this endpoint needs.</summary>
    public bool IsSatisfiedBy(AccessRights granted) => (granted & Rights) == Rights;
}
