using System.Globalization;
using System.Text;
using System.Text.Json;
using Registry.Abstractions;

namespace Registry.Grains.Heartbeats;

/// <summary>
/// The <c>heartbeatMissed</c> / <c>heartbeatRecovered</c> notifications, shaped like IoT Hub's lifecycle events (spec §10):
/// the same system and application properties under source <c>heartbeatEvents</c> and schema <c>heartbeatNotification</c>,
/// and a JSON body with the policy, the last heartbeat and the outage (docs/wire-contract.md).
/// </summary>
internal static class HeartbeatAlerts
{
    public const string Schema = "heartbeatNotification";

    /// <summary>The outage began at <paramref name="since"/> (the deadline that passed).</summary>
    public static RegistryEvent Missed(string hubName, string deviceId, HeartbeatPolicy policy, DateTime? lastHeartbeat, DateTime since, DateTime now) =>
        Create(hubName, RegistryEventTypes.HeartbeatMissed, deviceId, now, Body(deviceId, policy, lastHeartbeat, since, recovered: null));

    /// <summary>The outage that began at <paramref name="since"/> ended with the heartbeat at <paramref name="heartbeat"/>.</summary>
    public static RegistryEvent Recovered(string hubName, string deviceId, HeartbeatPolicy policy, DateTime since, DateTime heartbeat, DateTime now) =>
        Create(hubName, RegistryEventTypes.HeartbeatRecovered, deviceId, now, Body(deviceId, policy, heartbeat, since, heartbeat));

    private static RegistryEvent Create(string hubName, string opType, string deviceId, DateTime now, string body)
    {
        var timestamp = Iso(now);
        return new RegistryEvent
        {
            Source = RegistryEventSources.HeartbeatAlerts,
            OpType = opType,
            DeviceId = deviceId,
            OperationTimestamp = now,
            SystemProperties = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["content-type"] = "application/json",
                ["content-encoding"] = "utf-8",
                ["iothub-message-source"] = RegistryEventSources.HeartbeatAlerts,
                ["iothub-enqueuedtime"] = timestamp,
                ["iothub-connection-device-id"] = deviceId,
                ["correlation-id"] = Guid.NewGuid().ToString("N"),
                ["user-id"] = hubName,
            },
            ApplicationProperties = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["opType"] = opType,
                ["hubName"] = hubName,
                ["deviceId"] = deviceId,
                ["operationTimestamp"] = timestamp,
                ["iothub-message-schema"] = Schema,
            },
            Body = body,
        };
    }

    private static string Body(string deviceId, HeartbeatPolicy policy, DateTime? lastHeartbeat, DateTime since, DateTime? recovered)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("deviceId", deviceId);
            json.WriteNumber("intervalSeconds", policy.IntervalSeconds);
            json.WriteNumber("graceSeconds", policy.GraceSeconds);
            WriteTime(json, "lastHeartbeatTime", lastHeartbeat);
            WriteTime(json, "outageStartTime", since);
            WriteTime(json, "recoveredTime", recovered);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteTime(Utf8JsonWriter json, string name, DateTime? value)
    {
        if (value is { } time)
        {
            json.WriteString(name, Iso(time));
        }
        else
        {
            json.WriteNull(name);
        }
    }

    public static string Iso(DateTime time) => DateTime.SpecifyKind(time, DateTimeKind.Utc).ToString("o", CultureInfo.InvariantCulture);
}
