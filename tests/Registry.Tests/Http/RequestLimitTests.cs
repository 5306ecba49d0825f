using System.Net;
using System.Text;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// The accepting side of the gateway's limits (the refusing side is in the hostile corpus): a body of exactly
/// 256 KiB and JSON nested exactly 32 deep are read.
/// </summary>
public sealed class RequestLimitTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private const int MaxBodyBytes = 256 * 1024;

    private readonly HttpClient _http = registry.Client;

    [Fact]
    public async Task A_body_of_exactly_256_KiB_is_accepted()
    {
        var body = Padded(Json(new { deviceId = "limit-size" }), MaxBodyBytes);
        Assert.Equal(MaxBodyBytes, Encoding.UTF8.GetByteCount(body));

        using var response = await _http.PutDeviceAsync("limit-size", body);

        Assert.Equal("limit-size", (string?)(await response.ReadDeviceAsync(HttpStatusCode.OK))["deviceId"]);
    }

    [Fact]
    public async Task A_chunked_body_of_exactly_256_KiB_is_accepted()
    {
        var body = Encoding.UTF8.GetBytes(Padded(Json(new { deviceId = "limit-chunked" }), MaxBodyBytes));
        using var request = new HttpRequestMessage(HttpMethod.Put, DevicePath("limit-chunked")) { Content = new StreamContent(new MemoryStream(body)) };
        request.Headers.TransferEncodingChunked = true;
        request.Content.Headers.TryAddWithoutValidation("Content-Type", JsonContentType);

        using var response = await _http.SendAsync(request);

        Assert.Equal("limit-chunked", (string?)(await response.ReadDeviceAsync(HttpStatusCode.OK))["deviceId"]);
    }

    [Fact]
    public async Task Json_nested_exactly_32_deep_is_accepted()
    {
        // The object is level 1; 31 arrays inside its unknown member make 32.
        var body = $$"""{"deviceId":"limit-depth","x":{{new string('[', 31)}}{{new string(']', 31)}}}""";

        using var response = await _http.PutDeviceAsync("limit-depth", body);

        Assert.Equal("limit-depth", (string?)(await response.ReadDeviceAsync(HttpStatusCode.OK))["deviceId"]);
    }

    private static string Padded(string json, int bytes) => json + new string(' ', bytes - Encoding.UTF8.GetByteCount(json));
}
