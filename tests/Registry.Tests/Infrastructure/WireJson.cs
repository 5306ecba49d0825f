using System.Text;
using System.Text.Json;
using Registry.Gateway.Wire;

namespace Registry.Tests.Infrastructure;

/// <summary>Serializes and parses with the gateway's own JSON context, as the endpoints do.</summary>
internal static class WireJson
{
    public static string Write(DeviceJson device) => JsonSerializer.Serialize(device, GatewayJsonContext.Wire.DeviceJson);

    public static string Write(BulkResultJson result) => JsonSerializer.Serialize(result, GatewayJsonContext.Wire.BulkResultJson);

    public static DeviceRequestJson ReadDevice(string json) =>
        RequestBody.Deserialize(Encoding.UTF8.GetBytes(json), GatewayJsonContext.Wire.DeviceRequestJson);

    public static ExportImportDeviceJson?[] ReadBulk(string json) =>
        RequestBody.Deserialize(Encoding.UTF8.GetBytes(json), GatewayJsonContext.Wire.ExportImportDeviceJsonArray);

    /// <summary>JSON written with single quotes for readability in tests.</summary>
    public static string Q(string singleQuoted) => singleQuoted.Replace('\'', '"');
}
