using System.Text;

namespace Registry.Tests.Mqtt;

/// <summary>MQTT 3.1.1 packets written byte by byte, for what a well-behaved client library refuses to send.</summary>
public static class RawMqtt
{
    /// <summary>CONNECT with clean session off, username and password, and <paramref name="keepAliveSeconds"/>.</summary>
    public static byte[] Connect(string clientId, string userName, string password, ushort keepAliveSeconds) =>
        Connect(clientId, userName, password, keepAliveSeconds, will: null);

    /// <summary>
    /// CONNECT as <see cref="Connect(string, string, string, ushort)"/> with a will (QoS 0, not retained) whose message
    /// is <paramref name="willPayload"/>: MQTT 3.1.1 gives it a 2-byte length, so at most 65,535 bytes.
    /// </summary>
    public static byte[] Connect(string clientId, string userName, string password, ushort keepAliveSeconds, string willTopic, byte[] willPayload)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(willPayload.Length, ushort.MaxValue);
        return Connect(clientId, userName, password, keepAliveSeconds, (willTopic, willPayload));
    }

    private static byte[] Connect(string clientId, string userName, string password, ushort keepAliveSeconds, (string Topic, byte[] Payload)? will)
    {
        var body = new List<byte>();
        body.AddRange(String("MQTT"));
        body.Add(4); // protocol level 3.1.1
        body.Add(will is null ? (byte)0xC0 : (byte)0xC4); // username + password (+ will flag)
        body.Add((byte)(keepAliveSeconds >> 8));
        body.Add((byte)keepAliveSeconds);
        body.AddRange(String(clientId));
        if (will is var (topic, payload))
        {
            body.AddRange(String(topic));
            body.Add((byte)(payload.Length >> 8));
            body.Add((byte)payload.Length);
            body.AddRange(payload);
        }
        body.AddRange(String(userName));
        body.AddRange(String(password));
        return Packet(0x10, body);
    }

    /// <summary>PUBLISH with the QoS bits set to <paramref name="qos"/> (3 is not a QoS) and packet id 1 when qos &gt; 0.</summary>
    public static byte[] Publish(string topic, byte[] payload, int qos, ushort packetId = 1)
    {
        var body = new List<byte>(String(topic));
        if (qos > 0)
        {
            body.Add((byte)(packetId >> 8));
            body.Add((byte)packetId);
        }
        body.AddRange(payload);
        return Packet((byte)(0x30 | (qos << 1)), body);
    }

    /// <summary>SUBSCRIBE (packet id 1) to one filter, its options byte as given (3 is no QoS).</summary>
    public static byte[] Subscribe(string filter, byte options, ushort packetId = 1)
    {
        var body = new List<byte> { (byte)(packetId >> 8), (byte)packetId };
        body.AddRange(String(filter));
        body.Add(options);
        return Packet(0x82, body);
    }

    /// <summary>A fixed header declaring <paramref name="remainingLength"/> bytes of body, and no body.</summary>
    public static byte[] Header(byte type, int remainingLength) => [type, .. Length(remainingLength)];

    private static byte[] Packet(byte type, List<byte> body) => [type, .. Length(body.Count), .. body];

    private static byte[] String(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return [(byte)(bytes.Length >> 8), (byte)bytes.Length, .. bytes];
    }

    private static List<byte> Length(int length)
    {
        var bytes = new List<byte>();
        do
        {
            var b = (byte)(length % 128);
            length /= 128;
            bytes.Add(length > 0 ? (byte)(b | 0x80) : b);
        }
        while (length > 0);
        return bytes;
    }
}
