using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Registry.Abstractions;

namespace Registry.Grains.Events;

/// <summary>
/// IoT Hub's <c>deviceLifecycleEvents</c> (docs/wire-contract.md, "Lifecycle notifications"): what a device grain raises
/// once a create's or a delete's write landed, prepared (and in durable mode stored as an intent) before that write. Unrouted, it builds nothing. A publish the event stream refuses does not
/// fail the write it reports, which stands: it waits in <see cref="PendingNotifications"/> and is sent again.
/// </summary>
public sealed class LifecycleNotifications(
    IRegistryEventSink sink, PendingNotifications pending, IOptions<RegistryEventOptions> options, [FromKeyedServices(RegistryClock.Key)] TimeProvider clock)
{
    public const string ContentType = "application/json";
    public const string ContentEncoding = "utf-8";
    public const string MessageSchema = "deviceLifecycleNotification";

    private readonly string _hubName = options.Value.HubName;

    /// <summary>
    /// Before a create's write: its event, and in durable mode its intent row being stored, which the write awaits
    /// (<see cref="PendingNotifications.Intend"/>); null when no route names the source. Then one of <see cref="Landed"/>,
    /// <see cref="MayLand"/>, <see cref="NotLanded"/>.
    /// </summary>
    public PendingNotifications.Intent? BeforeCreate(string deviceId, string generationId, DateTime attempted) =>
        Intend(RegistryEventTypes.CreateDeviceIdentity, deviceId, attempted, OutboxChecks.Present(generationId));

    /// <summary>Before a delete's write of the device of <paramref name="generationId"/>: as <see cref="BeforeCreate"/>.</summary>
    public PendingNotifications.Intent? BeforeDelete(string deviceId, string generationId, DateTime attempted) =>
        Intend(RegistryEventTypes.DeleteDeviceIdentity, deviceId, attempted, OutboxChecks.Absent(generationId));

    /// <summary>Completes once the intent row is stored or refused (never faults); at once when unrouted.</summary>
    public static Task Stored(PendingNotifications.Intent? intent) => intent?.Stored ?? Task.CompletedTask;

    /// <summary>The write landed (acknowledged, or found by the read after a failed one): the event is published.</summary>
    public Task Landed(PendingNotifications.Intent? intent) => intent is null ? Task.CompletedTask : pending.Landed(intent);

    /// <summary>
    /// The write's call failed without learning whether it landed (a storage timeout: it can land later): a row to verify,
    /// sent by a sweep only if storage then shows it landed.
    /// </summary>
    public Task MayLand(PendingNotifications.Intent? intent) => intent is null ? Task.CompletedTask : pending.MayLand(intent);

    /// <summary>The write did not land: no event, and the intent row goes.</summary>
    public void NotLanded(PendingNotifications.Intent? intent)
    {
        if (intent is not null)
        {
            pending.NotLanded(intent);
        }
    }

    private PendingNotifications.Intent? Intend(string opType, string deviceId, DateTime attempted, string check) =>
        sink.IsRouted(RegistryEventSources.DeviceLifecycle)
            ? pending.Intend(Build(_hubName, opType, deviceId, attempted, clock.GetUtcNow().UtcDateTime), check)
            : null;

    /// <summary>The event IoT Hub sends for <paramref name="opType"/> of <paramref name="deviceId"/>, with spec section 10's properties.</summary>
    public static RegistryEvent Build(string hubName, string opType, string deviceId, DateTime operationTimestamp, DateTime enqueuedTime) => new()
    {
        Source = RegistryEventSources.DeviceLifecycle,
        OpType = opType,
        DeviceId = deviceId,
        OperationTimestamp = operationTimestamp,
        SystemProperties = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["content-type"] = ContentType,
            ["content-encoding"] = ContentEncoding,
            ["iothub-message-source"] = RegistryEventSources.DeviceLifecycle,
            ["iothub-enqueuedtime"] = Timestamp(enqueuedTime),
            ["iothub-connection-device-id"] = deviceId,
            ["correlation-id"] = Guid.NewGuid().ToString("N"),
            ["user-id"] = hubName,
        },
        ApplicationProperties = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["opType"] = opType,
            ["hubName"] = hubName,
            ["deviceId"] = deviceId,
            ["operationTimestamp"] = Timestamp(operationTimestamp),
            ["iothub-message-schema"] = MessageSchema,
        },
        Body = TwinBody(deviceId, operationTimestamp),
    };

    /// <summary>ISO 8601 in UTC with seven fractional digits, as IoT Hub writes its timestamps.</summary>
    public static string Timestamp(DateTime utc) =>
        DateTime.SpecifyKind(utc, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// The identity's twin, which this registry does not keep (docs/wire-contract.md §13): the twin of a new device,
    /// version 1 with empty desired and reported properties, last updated at the operation, as IoT Hub's notification
    /// shows it (it showed 0001-01-01, "never", review stop 32).
    /// </summary>
    private static string TwinBody(string deviceId, DateTime operationTimestamp)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("deviceId", deviceId);
            json.WriteString("etag", "AAAAAAAAAAE=");
            json.WriteNumber("version", 1);
            json.WriteStartObject("properties");
            foreach (var side in (ReadOnlySpan<string>)["desired", "reported"])
            {
                json.WriteStartObject(side);
                json.WriteStartObject("$metadata");
                json.WriteString("$lastUpdated", Timestamp(operationTimestamp));
                json.WriteEndObject();
                json.WriteNumber("$version", 1);
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
