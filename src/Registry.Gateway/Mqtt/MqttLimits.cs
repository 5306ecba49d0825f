namespace Registry.Gateway.Mqtt;

/// <summary>IoT Hub's device-to-cloud limits as the MQTT edge applies them (docs/wire-contract.md §11).</summary>
internal static class MqttLimits
{
    /// <summary>IoT Hub's largest device-to-cloud message body: 256 KB.</summary>
    public const int MaxPayloadBytes = 256 * 1024;

    /// <summary>Most properties in a telemetry topic's property bag (system and application together).</summary>
    public const int MaxProperties = 128;

    /// <summary>
    /// The largest MQTT packet read at all: a publish of <see cref="MaxPayloadBytes"/> with the longest topic MQTT
    /// allows (2-byte length + 65535) and a packet id. A fixed header declaring more closes the connection before
    /// its body is buffered.
    /// </summary>
    public const int MaxPacketBytes = MaxPayloadBytes + 2 + ushort.MaxValue + 2;
}
