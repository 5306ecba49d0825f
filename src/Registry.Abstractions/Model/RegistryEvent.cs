namespace Registry.Abstractions;

/// <summary>
/// A notification the registry raises: a lifecycle event (IoT Hub's <c>deviceLifecycleEvents</c>, docs/wire-contract.md)
/// or a heartbeat alert. Produced only while a route for its <see cref="Source"/> is configured; delivered on the Orleans
/// stream named by <see cref="RegistryStreams"/> and on the gateway's server-sent events endpoint.
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.RegistryEvent")]
public sealed record RegistryEvent
{
    /// <summary><see cref="RegistryEventSources"/>: the system property <c>iothub-message-source</c>.</summary>
    [Id(0)] public required string Source { get; init; }
    /// <summary><see cref="RegistryEventTypes"/>: the application property <c>opType</c>.</summary>
    [Id(1)] public required string OpType { get; init; }
    [Id(2)] public required string DeviceId { get; init; }
    /// <summary>When the operation was acknowledged (application property <c>operationTimestamp</c>).</summary>
    [Id(3)] public required DateTime OperationTimestamp { get; init; }
    /// <summary>IoT Hub's system properties (content-type, iothub-enqueuedtime, correlation-id, user-id, …).</summary>
    [Id(4)] public required IReadOnlyDictionary<string, string> SystemProperties { get; init; }
    /// <summary>IoT Hub's application properties (opType, hubName, deviceId, operationTimestamp, iothub-message-schema).</summary>
    [Id(5)] public required IReadOnlyDictionary<string, string> ApplicationProperties { get; init; }
    /// <summary>The JSON body (for lifecycle events, the twin-shaped body of docs/wire-contract.md).</summary>
    [Id(6)] public required string Body { get; init; }
}

/// <summary>The sources a route can name (the <c>iothub-message-source</c> values).</summary>
public static class RegistryEventSources
{
    /// <summary>IoT Hub's device lifecycle events: create and delete of a device identity.</summary>
    public const string DeviceLifecycle = "deviceLifecycleEvents";
    /// <summary>This registry's missed / recovered heartbeat alerts.</summary>
    public const string HeartbeatAlerts = "heartbeatEvents";

    /// <summary>Every source, as <c>iothub-message-source</c> spells it.</summary>
    public static IReadOnlyList<string> All { get; } = [DeviceLifecycle, HeartbeatAlerts];

    /// <summary>
    /// The source <paramref name="name"/> names, whatever its case: a route spells it as IoT Hub's route sources do
    /// (<c>DeviceLifecycleEvents</c>), a message property as <c>deviceLifecycleEvents</c>.
    /// </summary>
    public static bool TryNormalize(string? name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? source)
    {
        source = All.FirstOrDefault(s => string.Equals(s, name?.Trim(), StringComparison.OrdinalIgnoreCase));
        return source is not null;
    }

    /// <summary>The name a route gives the source, as IoT Hub's route sources are spelled (<c>DeviceLifecycleEvents</c>).</summary>
    public static string RouteName(string source) => char.ToUpperInvariant(source[0]) + source[1..];
}

/// <summary>The <c>opType</c> values.</summary>
public static class RegistryEventTypes
{
    public const string CreateDeviceIdentity = "createDeviceIdentity";
    public const string DeleteDeviceIdentity = "deleteDeviceIdentity";
    public const string HeartbeatMissed = "heartbeatMissed";
    public const string HeartbeatRecovered = "heartbeatRecovered";
}

/// <summary>
/// Where client apps subscribe: each source's events are spread over <see cref="StreamsPerSource"/> Orleans streams, in
/// this provider, namespace the source, keyed by <see cref="Keys"/>; a device's events always take the same one
/// (<see cref="KeyOf"/>), so a consumer sees them in order. One stream per source put every event of a source on one
/// Azure queue and through one pulling agent, which a routed durable registry outran within seconds (README Known limits).
/// A consumer subscribes to all of them (Registry.Client's <c>RegistryEventSubscription</c> does).
/// </summary>
public static class RegistryStreams
{
    /// <summary>The stream provider's name (memory streams embedded, Azure Queue streams durable).</summary>
    public const string Provider = "registry-events";

    /// <summary>
    /// How many streams carry a source's events. Enough that Orleans' hash ring maps each source's streams onto every
    /// one of the durable mode's four queues (<c>RegistryStreamsTests</c> checks it), few enough that a subscriber's
    /// subscriptions (one per stream, each a row in the pub-sub table) stay cheap.
    /// </summary>
    public const int StreamsPerSource = 16;

    // The stream namespace is the source (RegistryEventSources): StreamId.Create(source, key) for each key names the
    // source's streams. Key 0 is Guid.Empty, the single key of the registry before the events were spread.
    /// <summary>The stream keys within a source's namespace, in order: <c>{i:x8}-0000-0000-0000-000000000000</c>.</summary>
    public static IReadOnlyList<Guid> Keys { get; } =
        [.. Enumerable.Range(0, StreamsPerSource).Select(i => new Guid(i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))];

    /// <summary>The key of the stream that carries <paramref name="deviceId"/>'s events (the same stable hash as the index partitions).</summary>
    public static Guid KeyOf(string deviceId) => Keys[DevicePartitioner.PartitionOf(deviceId, StreamsPerSource)];
}
