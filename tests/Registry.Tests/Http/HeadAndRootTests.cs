using System.Net;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// Requests beside the SDKs' surface that people and tools send anyway: HEAD answers as GET without a body
/// (RFC 9110 §9.3.2), and the root names the surface in IoT Hub's error shape instead of an empty 404.
/// </summary>
public sealed class HeadAndRootTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private readonly HttpClient _http = registry.Client;

    [Fact]
    public async Task Head_of_a_device_answers_200_with_its_ETag_and_no_body()
    {
        var device = await _http.CreateDeviceAsync("head-present");

        using var response = await _http.SendAsync(HttpMethod.Head, DevicePath("head-present"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"\"{(string?)device["etag"]}\"", response.Headers.ETag?.ToString());
        Assert.Equal(JsonContentType, response.Content.Headers.ContentType?.ToString());
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Head_of_a_missing_device_answers_404_DeviceNotFound_without_a_body()
    {
        using var response = await _http.SendAsync(HttpMethod.Head, DevicePath("head-missing"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("DeviceNotFound", response.Headers.GetValues(ErrorCodeHeader).Single());
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        using var get = await _http.GetDeviceAsync("head-missing");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Theory]
    [InlineData($"devices?{ApiVersion}")]
    [InlineData($"statistics/devices?{ApiVersion}")]
    public async Task Head_of_the_list_and_the_statistics_answers_200_without_a_body(string path)
    {
        using var response = await _http.SendAsync(HttpMethod.Head, path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_of_the_root_answers_IoT_Hubs_error_shape_naming_the_surface()
    {
        using var response = await _http.GetAsync("/");

        var body = await response.AssertIotHubErrorAsync(HttpStatusCode.BadRequest, "ArgumentInvalid");
        Assert.Contains("/devices/{id}", (string?)body["Message"], StringComparison.Ordinal);
        Assert.Contains("README", (string?)body["Message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_of_the_root_needs_no_credentials()
    {
        using var anonymous = registry.Host.CreateAnonymousClient();

        using var response = await anonymous.GetAsync("/");

        await response.AssertIotHubErrorAsync(HttpStatusCode.BadRequest, "ArgumentInvalid");
    }
}
