using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// The registry's REST surface as the SDKs call it (docs/wire-contract.md §1-§6), plus the assertions every HTTP test
/// shares: IoT Hub's legacy error shape and the device JSON the SDKs depend on.
/// </summary>
public static partial class RegistryHttp
{
    public const string ApiVersion = "api-version=2021-04-12";
    public const string JsonContentType = "application/json; charset=utf-8";
    public const string ErrorCodeHeader = "iothub-errorcode";

    /// <summary>Node's <c>encodeURIComponent</c> encoding, which <see cref="Uri.EscapeDataString(string)"/> matches.</summary>
    public static string DevicePath(string id) => $"devices/{Uri.EscapeDataString(id)}?{ApiVersion}";

    /// <summary>A JSON body as the SDKs send it.</summary>
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static string Json(object body) => JsonSerializer.Serialize(body);

    public static Task<HttpResponseMessage> SendAsync(
        this HttpClient http, HttpMethod method, string path, string? json = null, string? ifMatch = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = json is null ? null : Json(json) };
        if (ifMatch is not null)
        {
            // Unvalidated so the bare * and odd tags reach the server exactly as written.
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }
        return http.SendAsync(request);
    }

    public static Task<HttpResponseMessage> PutDeviceAsync(this HttpClient http, string id, string json, string? ifMatch = null) =>
        http.SendAsync(HttpMethod.Put, DevicePath(id), json, ifMatch);

    public static Task<HttpResponseMessage> DeleteDeviceAsync(this HttpClient http, string id, string? ifMatch = null) =>
        http.SendAsync(HttpMethod.Delete, DevicePath(id), null, ifMatch);

    public static Task<HttpResponseMessage> GetDeviceAsync(this HttpClient http, string id) => http.GetAsync(DevicePath(id));

    public static Task<HttpResponseMessage> BulkAsync(this HttpClient http, string json, string path = "devices") =>
        http.SendAsync(HttpMethod.Post, $"{path}?{ApiVersion}", json);

    /// <summary>Creates a device with generated keys (or the given body) and returns it; fails the test unless 200.</summary>
    public static async Task<JsonObject> CreateDeviceAsync(this HttpClient http, string id, string? json = null)
    {
        using var response = await http.PutDeviceAsync(id, json ?? Json(new { deviceId = id }));
        return await response.ReadDeviceAsync(HttpStatusCode.OK);
    }

    /// <summary>The device as GET answers it; fails the test unless 200.</summary>
    public static async Task<JsonObject> GetDeviceJsonAsync(this HttpClient http, string id)
    {
        using var response = await http.GetDeviceAsync(id);
        return await response.ReadDeviceAsync(HttpStatusCode.OK);
    }

    public static async Task<JsonObject> StatisticsAsync(this HttpClient http)
    {
        using var response = await http.GetAsync($"statistics/devices?{ApiVersion}");
        return (await response.ReadJsonAsync(HttpStatusCode.OK)).AsObject();
    }

    public static long Count(this JsonObject statistics, string name) => (long)statistics[name]!;

    /// <summary>The body of a successful JSON answer, after checking the status and the content type the Node SDK needs.</summary>
    public static async Task<JsonNode> ReadJsonAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        Assert.Equal(JsonContentType, response.Content.Headers.ContentType?.ToString());
        return JsonNode.Parse(text)!;
    }

    /// <summary>A device answer: JSON with a deviceId, and an <c>ETag</c> header that quotes the body's etag.</summary>
    public static async Task<JsonObject> ReadDeviceAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        var device = (await response.ReadJsonAsync(expected)).AsObject();
        Assert.False(string.IsNullOrEmpty((string?)device["deviceId"]));
        Assert.Equal($"\"{(string?)device["etag"]}\"", response.Headers.TryGetValues("ETag", out var tags) ? tags.Single() : null);
        return device;
    }

    /// <summary>
    /// IoT Hub's legacy error (docs/wire-contract.md §6): the status, the <c>iothub-errorcode</c> header, and a JSON body whose
    /// <c>Message</c> starts <c>ErrorCode:&lt;code&gt;;</c> and whose <c>ExceptionMessage</c> carries a tracking id.
    /// Returns the body.
    /// </summary>
    public static async Task<JsonObject> AssertIotHubErrorAsync(this HttpResponseMessage response, int status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode < 500, $"server error {(int)response.StatusCode}: {text}");
        Assert.True((int)response.StatusCode == status, $"expected {status} {code}, got {(int)response.StatusCode}: {text}");
        Assert.Equal(code, response.Headers.TryGetValues(ErrorCodeHeader, out var codes) ? string.Join(",", codes) : null);
        Assert.Equal(JsonContentType, response.Content.Headers.ContentType?.ToString());
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.StartsWith($"ErrorCode:{code};", (string?)body["Message"], StringComparison.Ordinal);
        Assert.Matches(TrackingId(), (string?)body["ExceptionMessage"] ?? "");
        return body;
    }

    public static Task<JsonObject> AssertIotHubErrorAsync(this HttpResponseMessage response, HttpStatusCode status, string code) =>
        response.AssertIotHubErrorAsync((int)status, code);

    /// <summary>JSON equality that names both documents on failure.</summary>
    public static void AssertSameJson(JsonNode? expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(expected, actual), $"expected {expected?.ToJsonString()}\n  actual {actual?.ToJsonString()}");

    [GeneratedRegex(@"^Tracking ID:[0-9a-f]{32}-G:\d+-TimeStamp:\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}$")]
    private static partial Regex TrackingId();
}
