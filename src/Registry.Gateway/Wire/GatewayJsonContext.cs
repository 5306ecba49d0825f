using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Registry.Gateway.Errors;

namespace Registry.Gateway.Wire;

/// <summary>
/// Source-generated System.Text.Json metadata for every wire type. Property names are camelCase and read
/// case-insensitively (as IoT Hub's Newtonsoft does); nulls are written, as the SDKs expect the fields present;
/// depth is capped so a hostile body fails fast with IotHubFormatError. Use <see cref="Wire"/>, not Default.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    MaxDepth = MaxDepth)]
[JsonSerializable(typeof(DeviceJson))]
[JsonSerializable(typeof(DeviceJson[]))]
[JsonSerializable(typeof(DeviceRequestJson))]
[JsonSerializable(typeof(ExportImportDeviceJson?[]))]
[JsonSerializable(typeof(BulkResultJson))]
[JsonSerializable(typeof(RegistryStatisticsJson))]
[JsonSerializable(typeof(ServiceStatisticsJson))]
[JsonSerializable(typeof(LegacyErrorBody))]
[JsonSerializable(typeof(DeviceHeartbeatJson))]
[JsonSerializable(typeof(HeartbeatRequestJson))]
[JsonSerializable(typeof(HeartbeatOutageJson[]))]
internal sealed partial class GatewayJsonContext : JsonSerializerContext
{
    public const int MaxDepth = 32;

    /// <summary>
    /// The context the gateway serializes with: like Default, but ids such as <c>a'b+c</c> are written as-is
    /// rather than as <c>\u0027</c> escapes, the way Newtonsoft-based IoT Hub writes them. The bodies are JSON, never HTML.
    /// </summary>
    // Built on first use: the generated Default is initialized in another part of this class, in no set order.
    public static GatewayJsonContext Wire => s_wire ??= new(new JsonSerializerOptions(Default.GeneratedSerializerOptions!)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    private static GatewayJsonContext? s_wire;
}
