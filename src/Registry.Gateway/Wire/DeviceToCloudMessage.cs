using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>
/// One device-to-cloud message as the HTTPS device endpoint receives it (docs/wire-contract.md "Devices over HTTPS"):
/// its application properties (<c>iothub-app-*</c>, the prefix removed) and IoT Hub's system properties, checked against
/// IoT Hub's rules. The body is only measured: the registry counts messages, it does not keep them.
/// </summary>
internal sealed record DeviceToCloudMessage(
    int BodyBytes,
    IReadOnlyDictionary<string, string> ApplicationProperties,
    IReadOnlyDictionary<string, string> SystemProperties)
{
    /// <summary>The media type of a batch (spec §9.1): a JSON array of <c>{"body": base64, "properties": {...}}</c>.</summary>
    public const string BatchContentType = "application/vnd.microsoft.iothub.json";

    public const string ApplicationPrefix = "iothub-app-";

    /// <summary>The system properties the device SDKs send as headers (spec §9.1), by header name.</summary>
    private static readonly HashSet<string> SystemNames = new(StringComparer.OrdinalIgnoreCase)
    {
        MessageId, CorrelationId, "IoTHub-UserId", "IoTHub-To", "IoTHub-Expiry", "IoTHub-Ack",
        "iothub-contenttype", "iothub-contentencoding", "iothub-interface-id", "dt-subject",
    };

    private const string MessageId = "IoTHub-MessageId";
    private const string CorrelationId = "IoTHub-CorrelationId";

    /// <summary>IoT Hub's longest message id and correlation id.</summary>
    private const int MaxIdLength = 128;

    /// <summary>The size IoT Hub counts against its 256 KB limit: the body and every property name and value.</summary>
    public int Size => BodyBytes + Measure(ApplicationProperties) + Measure(SystemProperties);

    /// <summary>A single message: the request body is the message, its headers carry the properties.</summary>
    public static DeviceToCloudMessage FromRequest(HttpRequest request, int bodyBytes)
    {
        var application = new Dictionary<string, string>(StringComparer.Ordinal);
        var system = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in request.Headers)
        {
            if (!IsApplication(name) && !SystemNames.Contains(name))
            {
                continue; // transport headers (Authorization, User-Agent, Transfer-Encoding, ...) are not message properties
            }
            if (values.Count != 1)
            {
                throw RegistryException.Invalid($"The message property header '{name}' appears {values.Count} times, but it may appear once.");
            }
            Add(application, system, name, values[0] ?? "");
        }
        return Checked(new DeviceToCloudMessage(bodyBytes, application, system));
    }

    /// <summary>
    /// A batch body. Anything that is not an array of objects each with a base64 <c>body</c> and string-valued
    /// <c>properties</c> is ArgumentInvalid, and the whole batch is refused: no message of it counts.
    /// </summary>
    public static IReadOnlyList<DeviceToCloudMessage> FromBatch(ReadOnlySpan<byte> json)
    {
        try
        {
            using var document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 4 });
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw Malformed("the body is not a JSON array");
            }
            var messages = new List<DeviceToCloudMessage>(document.RootElement.GetArrayLength());
            var index = 0;
            foreach (var item in document.RootElement.EnumerateArray())
            {
                messages.Add(FromBatchItem(item, index++));
            }
            if (messages.Count == 0)
            {
                throw Malformed("the batch holds no message");
            }
            return messages;
        }
        catch (JsonException e)
        {
            throw Malformed($"the body is not valid JSON (line {e.LineNumber}, byte {e.BytePositionInLine})");
        }
    }

    private static DeviceToCloudMessage FromBatchItem(JsonElement item, int index)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw Malformed($"message {index} is not a JSON object");
        }
        int? bodyBytes = null;
        var application = new Dictionary<string, string>(StringComparer.Ordinal);
        var system = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var members = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in item.EnumerateObject())
        {
            if (!members.Add(member.Name))
            {
                // The last one would win unseen, as a property named twice would (a review, 2026-12-07).
                throw Malformed($"message {index} has the member '{member.Name}' twice");
            }
            if (member.NameEquals("body"))
            {
                bodyBytes = member.Value.ValueKind == JsonValueKind.String && DecodedLength(member.Value.GetString()!) is { } length
                    ? length
                    : throw Malformed($"the body of message {index} is not a base64 string");
            }
            else if (member.NameEquals("properties"))
            {
                if (member.Value.ValueKind != JsonValueKind.Object)
                {
                    throw Malformed($"the properties of message {index} are not a JSON object");
                }
                // Read as headers are: names that differ only in case are the same name (a single message's
                // 'iothub-app-k' and 'iothub-app-K' headers are one header sent twice).
                var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                foreach (var property in member.Value.EnumerateObject())
                {
                    if (property.Value.ValueKind != JsonValueKind.String)
                    {
                        throw Malformed($"property '{property.Name}' of message {index} is not a string");
                    }
                    // Every name is checked as a header name would be, kept or not: one that could not be a header
                    // (empty, a space, ...) or that appears twice, in any case, makes the batch malformed.
                    if (property.Name.Length == 0 || !IsToken(property.Name))
                    {
                        throw Malformed($"property name '{property.Name}' of message {index} has characters a message property name may not have");
                    }
                    if (!names.Add(property.Name))
                    {
                        throw Malformed($"property '{property.Name}' of message {index} appears twice");
                    }
                    if (IsApplication(property.Name) || SystemNames.Contains(property.Name))
                    {
                        if (application.ContainsKey(Strip(property.Name)) || system.ContainsKey(property.Name))
                        {
                            throw Malformed($"property '{property.Name}' of message {index} appears twice");
                        }
                        Add(application, system, property.Name, property.Value.GetString()!);
                    }
                    // Other names are not properties of an IoT Hub message: as with headers, they are checked, not kept.
                }
            }
            else
            {
                throw Malformed($"message {index} has a member '{member.Name}', but only 'body' and 'properties' are allowed");
            }
        }
        return Checked(new DeviceToCloudMessage(bodyBytes ?? throw Malformed($"message {index} has no body"), application, system));
    }

    private static bool IsApplication(string name) =>
        name.StartsWith(ApplicationPrefix, StringComparison.OrdinalIgnoreCase);

    private static string Strip(string name) => IsApplication(name) ? name[ApplicationPrefix.Length..] : name;

    private static void Add(Dictionary<string, string> application, Dictionary<string, string> system, string name, string value)
    {
        if (IsApplication(name))
        {
            application[Strip(name)] = value;
        }
        else
        {
            system[name] = value;
        }
    }

    /// <summary>
    /// IoT Hub's rules for properties sent over HTTPS: application property names and values are ASCII alphanumerics
    /// and <c>! # $ % &amp; ' * + - . ^ _ ` | ~</c>; message and correlation ids at most 128 characters, the message id
    /// from IoT Hub's id alphabet.
    /// </summary>
    private static DeviceToCloudMessage Checked(DeviceToCloudMessage message)
    {
        foreach (var (name, value) in message.ApplicationProperties)
        {
            if (name.Length == 0 || !IsToken(name))
            {
                throw RegistryException.Invalid($"The application property name '{ApplicationPrefix}{name}' has characters IoT Hub does not allow over HTTPS.");
            }
            if (!IsToken(value))
            {
                throw RegistryException.Invalid($"The value of application property '{name}' has characters IoT Hub does not allow over HTTPS.");
            }
        }
        if (message.SystemProperties.TryGetValue(MessageId, out var messageId)
            && !IsValidMessageId(messageId))
        {
            throw RegistryException.Invalid($"{MessageId} must be 1 to {MaxIdLength} ASCII letters, digits, any of -:.+%_#*?!(),=@$' or semicolon.");
        }
        if (message.SystemProperties.TryGetValue(CorrelationId, out var correlationId) && !IsValidCorrelationId(correlationId))
        {
            throw RegistryException.Invalid($"{CorrelationId} must be at most {MaxIdLength} characters.");
        }
        return message;
    }

    private static bool IsToken(string text) => text.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c));

    /// <summary>Whether <paramref name="messageId"/> is one HTTPS takes (1 to 128 of IoT Hub's id alphabet); MQTT's <c>$.mid</c> follows it.</summary>
    internal static bool IsValidMessageId(string messageId) => messageId.Length is > 0 and <= MaxIdLength && messageId.All(IsMessageIdChar);

    /// <summary>Whether <paramref name="correlationId"/> is one HTTPS takes (at most 128 characters); MQTT's <c>$.cid</c> follows it.</summary>
    internal static bool IsValidCorrelationId(string correlationId) => correlationId.Length <= MaxIdLength;

    private static bool IsMessageIdChar(char c) => char.IsAsciiLetterOrDigit(c) || "-:.+%_#*?!(),=@;$'".Contains(c);

    private static int? DecodedLength(string base64)
    {
        var utf8 = Encoding.UTF8.GetBytes(base64);
        return Base64.IsValid(utf8, out var length) ? length : null;
    }

    private static int Measure(IReadOnlyDictionary<string, string> properties) =>
        properties.Sum(p => Encoding.UTF8.GetByteCount(p.Key) + Encoding.UTF8.GetByteCount(p.Value));

    private static RegistryException Malformed(string why) => RegistryException.Invalid($"The message batch is malformed: {why}.");
}
