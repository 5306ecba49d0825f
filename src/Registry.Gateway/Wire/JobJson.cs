using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Registry.Gateway.Wire;

// IoT Hub's JobProperties (docs/wire-contract.md, "Import and export jobs") and the lines of import/export blobs.

/// <summary>The request part of JobProperties that <c>POST /jobs/create</c> reads; system fields the SDKs send are ignored.</summary>
internal sealed class JobRequestJson
{
    public string? Type { get; init; }
    public string? InputBlobContainerUri { get; init; }
    public string? InputBlobName { get; init; }
    public string? OutputBlobContainerUri { get; init; }
    public string? OutputBlobName { get; init; }
    [JsonConverter(typeof(LenientBooleanConverter))]
    public bool? ExcludeKeysInExport { get; init; }
    public string? StorageAuthenticationType { get; init; }
}

/// <summary>JobProperties as the registry answers it; property order follows the IoT Hub swagger.</summary>
internal sealed record JobPropertiesJson(
    string JobId,
    string? StartTimeUtc,
    string? EndTimeUtc,
    string Type,
    string Status,
    int Progress,
    string? InputBlobContainerUri,
    string? InputBlobName,
    string OutputBlobContainerUri,
    string OutputBlobName,
    bool ExcludeKeysInExport,
    string StorageAuthenticationType,
    string? FailureReason);

/// <summary>An export line: ExportImportDevice without importMode or twin (the registry keeps no twins).</summary>
internal sealed record ExportDeviceJson(
    string Id,
    string ETag,
    string Status,
    string? StatusReason,
    AuthenticationJson Authentication,
    CapabilitiesJson Capabilities,
    string? DeviceScope,
    IReadOnlyList<string> ParentScopes);

/// <summary>One importErrors.log line: unlike the bulk API, <c>errorCode</c> is the number.</summary>
internal sealed record ImportErrorJson(string? DeviceId, int ErrorCode, string ErrorStatus);

/// <summary>The jobs' JSON metadata, with the options of <see cref="GatewayJsonContext"/>: one wire style for every body and line.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    MaxDepth = GatewayJsonContext.MaxDepth)]
[JsonSerializable(typeof(JobRequestJson))]
[JsonSerializable(typeof(JobPropertiesJson))]
[JsonSerializable(typeof(JobPropertiesJson[]))]
[JsonSerializable(typeof(ExportImportDeviceJson))]
[JsonSerializable(typeof(ExportDeviceJson))]
[JsonSerializable(typeof(ImportErrorJson))]
internal sealed partial class JobJsonContext : JsonSerializerContext
{
    /// <summary>Like Default, but ids are written unescaped, as <see cref="GatewayJsonContext.Wire"/> writes them.</summary>
    public static JobJsonContext Wire => s_wire ??= new(new JsonSerializerOptions(Default.GeneratedSerializerOptions!)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    private static JobJsonContext? s_wire;
}
