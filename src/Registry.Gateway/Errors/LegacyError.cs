using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Registry.Abstractions;
using Registry.Gateway.Wire;

namespace Registry.Gateway.Errors;

/// <summary>IoT Hub's legacy error body (docs/wire-contract.md §6), the one shape both the Node and the C# SDKs parse.</summary>
internal sealed record LegacyErrorBody(
    [property: JsonPropertyName("Message")] string Message,
    [property: JsonPropertyName("ExceptionMessage")] string ExceptionMessage);

/// <summary>
/// Writes a failure the way IoT Hub does: status <c>code / 1000</c>, header <c>iothub-errorcode</c> and
/// <c>{"Message":"ErrorCode:&lt;Code&gt;;&lt;text&gt;","ExceptionMessage":"Tracking ID:...-G:0-TimeStamp:..."}</c>.
/// </summary>
internal sealed class LegacyError(RegistryErrorCode code, string message, string trackingId, DateTime timestampUtc) : IResult
{
    public const string ErrorCodeHeader = "iothub-errorcode";

    public RegistryErrorCode Code => code;

    public string TrackingId => trackingId;

    /// <summary>An error stamped with the registry's one clock, the <see cref="TimeProvider"/> of the request's services.</summary>
    public static LegacyError Create(HttpContext http, RegistryErrorCode code, string message) =>
        new(code, message, Guid.NewGuid().ToString("N"), http.RequestServices.GetRequiredKeyedService<TimeProvider>(RegistryClock.Key).GetUtcNow().UtcDateTime);

    /// <summary>The Node SDK takes the code from <c>Message</c>'s first <c>;</c>-segment and the text from the second.</summary>
    public LegacyErrorBody Body => new(
        $"ErrorCode:{code};{message}",
        $"Tracking ID:{trackingId}-G:0-TimeStamp:{timestampUtc.ToString("MM/dd/yyyy HH:mm:ss", CultureInfo.InvariantCulture)}");

    public Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = code.HttpStatus();
        // The C# SDK fills Exception.Code only when this header names the same code as the body.
        response.Headers[ErrorCodeHeader] = code.ToString();
        return response.WriteAsJsonAsync(Body, GatewayJsonContext.Wire.LegacyErrorBody, GatewayResults.JsonContentType);
    }
}
