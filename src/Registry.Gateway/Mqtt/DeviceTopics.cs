using System.Text;

namespace Registry.Gateway.Mqtt;

/// <summary>What a device's PUBLISH topic is, as <see cref="DeviceTopics.ClassifyPublish"/> reads it.</summary>
internal enum PublishTopic
{
    /// <summary><c>devices/{id}/messages/events/{property bag}</c> of the connected device, the bag well formed.</summary>
    Telemetry,
    /// <summary>A telemetry topic naming another device.</summary>
    OtherDevice,
    /// <summary>Anything the registry does not serve (twin, methods, free topics).</summary>
    Unknown,
    /// <summary>A property bag that is not <c>key=value&amp;…</c> URL-encoded, or holds more than <see cref="MqttLimits.MaxProperties"/>.</summary>
    BadPropertyBag,
}

/// <summary>
/// IoT Hub's device topics (docs/wire-contract.md, "Devices over MQTT"), read in one place: the telemetry topic a
/// device may publish on, and the subscriptions the SDKs make on open, which are accepted and stay silent.
/// Device ids appear raw in topics, as the SDKs put them.
/// </summary>
internal static class DeviceTopics
{
    private const string Devices = "devices/";
    private const string Events = "/messages/events";

    /// <summary>The subscriptions an SDK makes on open that the registry accepts without ever publishing on them.</summary>
    private static readonly string[] SilentSubscriptions =
    [
        "$iothub/methods/POST/#",
        "$iothub/twin/res/#",
        "$iothub/twin/PATCH/properties/desired/#",
    ];

    public static PublishTopic ClassifyPublish(string? topic, string deviceId)
    {
        if (topic is null || !topic.StartsWith(Devices, StringComparison.Ordinal))
        {
            return PublishTopic.Unknown;
        }
        var events = topic.IndexOf(Events, Devices.Length, StringComparison.Ordinal);
        if (events < 0)
        {
            return PublishTopic.Unknown;
        }
        var tail = topic.AsSpan(events + Events.Length);
        if (!tail.IsEmpty && tail[0] != '/')
        {
            return PublishTopic.Unknown;
        }
        if (!topic.AsSpan(Devices.Length, events - Devices.Length).SequenceEqual(deviceId))
        {
            return PublishTopic.OtherDevice;
        }
        return tail.IsEmpty || IsPropertyBag(tail[1..]) ? PublishTopic.Telemetry : PublishTopic.BadPropertyBag;
    }

    /// <summary>Whether <paramref name="filter"/> is one of the SDK's open-time subscriptions for <paramref name="deviceId"/>.</summary>
    public static bool IsSilentSubscription(string? filter, string deviceId) =>
        filter is not null
        && (filter == $"{Devices}{deviceId}/messages/devicebound/#" || Array.IndexOf(SilentSubscriptions, filter) >= 0);

    /// <summary>
    /// <c>k=v&amp;k2=v2</c> with each part URL-encoded (<c>%24.mid=1&amp;alert=high</c>), a value optional, a key not;
    /// at most <see cref="MqttLimits.MaxProperties"/> properties, no key twice (compared decoded, as HTTPS compares its
    /// property names), and every escape decoding to UTF-8 (<c>%FF</c> does not; a device id in a path is refused the
    /// same way). Nothing is kept: the registry counts messages, it does not route them.
    /// </summary>
    internal static bool IsPropertyBag(ReadOnlySpan<char> bag) => PropertyBagBytes(bag) is not null;

    /// <summary>
    /// The bytes a telemetry topic's property bag counts toward the 256 KB message limit, as HTTPS counts its properties
    /// (each decoded name and value, UTF-8); 0 for a topic without one. Call on a topic <see cref="ClassifyPublish"/> took
    /// for telemetry.
    /// </summary>
    internal static int PropertyBytes(string topic)
    {
        var events = topic.IndexOf(Events, Devices.Length, StringComparison.Ordinal);
        var tail = topic.AsSpan(events + Events.Length);
        return tail.IsEmpty ? 0 : PropertyBagBytes(tail[1..]) ?? 0;
    }

    /// <summary>As <see cref="IsPropertyBag"/>, the bag's size in decoded UTF-8 bytes when it is one, else null.</summary>
    private static int? PropertyBagBytes(ReadOnlySpan<char> bag)
    {
        if (bag.IsEmpty)
        {
            return 0;
        }
        var size = 0;
        var count = 0;
        HashSet<string>? keys = null;
        foreach (var range in bag.Split('&'))
        {
            var part = bag[range];
            if (++count > MqttLimits.MaxProperties)
            {
                return null;
            }
            var equals = part.IndexOf('=');
            var key = equals < 0 ? part : part[..equals];
            var value = equals < 0 ? "" : Decode(part[(equals + 1)..]);
            if (key.IsEmpty || Decode(key) is not { } name || value is null)
            {
                return null;
            }
            size += Encoding.UTF8.GetByteCount(name) + Encoding.UTF8.GetByteCount(value);
            // The message and correlation ids HTTPS refuses (empty, over 128, outside IoT Hub's id alphabet) are refused here too.
            if ((name == "$.mid" && !Wire.DeviceToCloudMessage.IsValidMessageId(value))
                || (name == "$.cid" && !Wire.DeviceToCloudMessage.IsValidCorrelationId(value)))
            {
                return null;
            }
            if (!(keys ??= new HashSet<string>(StringComparer.Ordinal)).Add(name))
            {
                return null;
            }
        }
        return size;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// The text <paramref name="text"/> stands for, or null when it is not URL-encoded: a <c>%</c> not followed by two
    /// hex digits, a raw separator that would make the bag ambiguous, or escapes that are not UTF-8.
    /// </summary>
    private static string? Decode(ReadOnlySpan<char> text)
    {
        if (text.IndexOfAny('=', '&', '/') >= 0 || text.IndexOfAny('#', '+') >= 0)
        {
            return null;
        }
        if (text.IndexOf('%') < 0)
        {
            return text.ToString();
        }
        var bytes = new List<byte>(text.Length);
        var raw = 0; // start of the run of raw characters not yet added
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '%')
            {
                continue;
            }
            if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2]))
            {
                return null;
            }
            bytes.AddRange(Encoding.UTF8.GetBytes(text[raw..i].ToString()));
            bytes.Add((byte)(HexValue(text[i + 1]) << 4 | HexValue(text[i + 2])));
            i += 2;
            raw = i + 1;
        }
        bytes.AddRange(Encoding.UTF8.GetBytes(text[raw..].ToString()));
        try
        {
            return StrictUtf8.GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static int HexValue(char digit) => digit <= '9' ? digit - '0' : (digit | 0x20) - 'a' + 10;
}
