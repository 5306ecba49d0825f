using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Registry.Abstractions;

namespace Registry.Grains.Events;

/// <summary>
/// IoT Hub's <c>deviceLifecycleEvents</c> (docs/wire-contract.md, "Lifecycle notifications"): what a device grain raises
/// once a create or a delete was acknowledged. Unrouted, it builds nothing. A publish the event stream refuses does not
/// fail the write it reports, which stands: it waits in <see cref="PendingNotifications"/> and is sent again.
/// </summary>
public sealed class LifecycleNotifications(
    IRegistryEventSink sink, PendingNotifications pending, IOptions<RegistryEventOptions> options, [FromKeyedServices(RegistryClock.Key)] TimeProvider clock)
{
    public const string ContentType = "application/json";
    public const string ContentEncoding = "utf-8";
    public const string MessageSchema = "deviceLifecycleNotification";

    private readonly string _hubName = options.Value.HubName;

    /// <summary>After an acknowledged create; completes at once when no route names the source.</summary>
    public Task Created(string deviceId, DateTime acknowledged) => Notify(RegistryEventTypes.CreateDeviceIdentity, deviceId, acknowledged);

    /// <summary>After an acknowledged delete; completes at once when no route names the source.</summary>
    public Task Deleted(string deviceId, DateTime acknowledged) => Notify(RegistryEventTypes.DeleteDeviceIdentity, deviceId, acknowledged);

    /// <summary>
    /// After a create whose call failed without learning whether its write landed (a storage timeout: the write can land
    /// later): a row to verify, sent by a sweep only if the device is then stored with <paramref name="generationId"/>.
    /// </summary>
    public Task CreatedIfLanded(string deviceId, string generationId, DateTime attempted) =>
        NotifyIfLanded(RegistryEventTypes.CreateDeviceIdentity, deviceId, attempted, OutboxChecks.Present(generationId));

    /// <summary>After a delete whose call failed without learning whether it landed: sent only if the device of <paramref name="generationId"/> is then gone.</summary>
    public Task DeletedIfLanded(string deviceId, string generationId, DateTime attempted) =>
        NotifyIfLanded(RegistryEventTypes.DeleteDeviceIdentity, deviceId, attempted, OutboxChecks.Absent(generationId));

    private Task NotifyIfLanded(string opType, string deviceId, DateTime attempted, string check) =>
        sink.IsRouted(RegistryEventSources.DeviceLifecycle)
            ? pending.StoreUnverified(Build(_hubName, opType, deviceId, attempted, clock.GetUtcNow().UtcDateTime), check)
            : Task.CompletedTask;

    private Task Notify(string opType, string deviceId, DateTime acknowledged) =>
        sink.IsRouted(RegistryEventSources.DeviceLifecycle)
            ? pending.Publish(Build(_hubName, opType, deviceId, acknowledged, clock.GetUtcNow().UtcDateTime))
            : Task.CompletedTask;

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
