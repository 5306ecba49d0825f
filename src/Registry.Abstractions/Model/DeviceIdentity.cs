namespace Registry.Abstractions;

/// <summary>Whether a device may connect; IoT Hub's <c>status</c>.</summary>
[GenerateSerializer, Alias("registry.DeviceStatus")]
public enum DeviceStatus
{
    Enabled = 0,
    Disabled = 1,
}

/// <summary>IoT Hub's <c>connectionState</c>: Connected while the device holds an MQTT session (only MQTT sessions change it, as in IoT Hub).</summary>
[GenerateSerializer, Alias("registry.DeviceConnectionState")]
public enum DeviceConnectionState
{
    Disconnected = 0,
    Connected = 1,
}

/// <summary>How a device proves who it is; IoT Hub's <c>authentication.type</c>.</summary>
[GenerateSerializer, Alias("registry.AuthenticationType")]
public enum AuthenticationType
{
    Sas = 0,
    SelfSigned = 1,
    CertificateAuthority = 2,
    None = 3,
}

/// <summary>A device's two symmetric keys, base64.</summary>
[GenerateSerializer, Immutable, Alias("registry.SymmetricKey")]
public sealed record SymmetricKey(
    [property: Id(0)] string? PrimaryKey,
    [property: Id(1)] string? SecondaryKey);

/// <summary>A device's two X.509 thumbprints, hex (SHA-1 or SHA-256).</summary>
[GenerateSerializer, Immutable, Alias("registry.X509Thumbprint")]
public sealed record X509Thumbprint(
    [property: Id(0)] string? PrimaryThumbprint,
    [property: Id(1)] string? SecondaryThumbprint);

/// <summary>The credentials of a device: keys or thumbprints, never both.</summary>
[GenerateSerializer, Immutable, Alias("registry.AuthenticationMechanism")]
public sealed record AuthenticationMechanism(
    [property: Id(0)] AuthenticationType Type,
    [property: Id(1)] SymmetricKey? SymmetricKey,
    [property: Id(2)] X509Thumbprint? X509Thumbprint);

/// <summary>What the device is; only <c>iotEdge</c> exists in IoT Hub's schema.</summary>
[GenerateSerializer, Immutable, Alias("registry.DeviceCapabilities")]
public sealed record DeviceCapabilities([property: Id(0)] bool IotEdge);

/// <summary>
/// What a caller may set on a device: the writable subset of IoT Hub's Device. Read-only fields
/// (generationId, etag, times, connection state) are never part of a request.
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.DeviceIdentityInput")]
public sealed record DeviceIdentityInput
{
    [Id(0)] public required string DeviceId { get; init; }
    [Id(1)] public DeviceStatus Status { get; init; }
    [Id(2)] public string? StatusReason { get; init; }
    /// <summary>Null means "generate symmetric keys", as IoT Hub does for a body without authentication.</summary>
    [Id(3)] public AuthenticationMechanism? Authentication { get; init; }
    [Id(4)] public DeviceCapabilities? Capabilities { get; init; }
    [Id(5)] public string? DeviceScope { get; init; }
    [Id(6)] public IReadOnlyList<string>? ParentScopes { get; init; }
}

/// <summary>
/// A registered device as IoT Hub returns it: the identity plus the fields the registry owns
/// (generationId, etag, times, connection state).
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.DeviceIdentity")]
public sealed record DeviceIdentity
{
    [Id(0)] public required string DeviceId { get; init; }
    /// <summary>New at every create, so a re-created id is distinguishable from its predecessor.</summary>
    [Id(1)] public required string GenerationId { get; init; }
    /// <summary>Opaque, new at every identity write; compared by <c>If-Match</c>.</summary>
    [Id(2)] public required string ETag { get; init; }
    [Id(3)] public DeviceStatus Status { get; init; }
    [Id(4)] public string? StatusReason { get; init; }
    [Id(5)] public DateTime StatusUpdatedTime { get; init; }
    [Id(6)] public required AuthenticationMechanism Authentication { get; init; }
    [Id(7)] public DeviceCapabilities Capabilities { get; init; } = new(false);
    [Id(8)] public string? DeviceScope { get; init; }
    [Id(9)] public IReadOnlyList<string> ParentScopes { get; init; } = [];
    [Id(10)] public DeviceConnectionState ConnectionState { get; init; }
    [Id(11)] public DateTime ConnectionStateUpdatedTime { get; init; }
    [Id(12)] public DateTime LastActivityTime { get; init; }
    [Id(13)] public int CloudToDeviceMessageCount { get; init; }
}
