using System.Net;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// HEAD answers as GET without a body wherever GET is served, on HTTP/1.1 and on HTTP/2 (which curl and browsers
/// negotiate over TLS): the same status, error code and ETag, and a stream that ends cleanly. Load balancers probe
/// <c>/healthz</c> with HEAD.
/// </summary>
public sealed class HeadOverBothProtocolsTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    private const string PresentId = "head-both-present";

    public static TheoryData<string, string> Paths()
    {
        var data = new TheoryData<string, string>();
        string[] paths =
        [
            DevicePath(PresentId), DevicePath("head-both-missing"), $"devices?{ApiVersion}", $"statistics/devices?{ApiVersion}",
            "/", $"devices/{PresentId}/unknown?{ApiVersion}", "healthz",
            // Hostile review, stop 31: these answered HEAD with 400 ArgumentInvalid where GET answers 200 or 404.
            $"devices/{PresentId}/heartbeat?{ApiVersion}", $"devices/head-both-missing/heartbeat?{ApiVersion}",
            $"heartbeat/outages?{ApiVersion}", $"statistics/service?{ApiVersion}", $"jobs?{ApiVersion}",
            $"jobs/{Guid.Empty}?{ApiVersion}",
        ];
        foreach (var version in new[] { "1.1", "2.0" })
        {
            foreach (var path in paths)
            {
                data.Add(version, path);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Head_answers_as_Get_without_a_body(string version, string path)
    {
        await EnsurePresentAsync();

        var (get, _) = await SendAsync(registry.Client, HttpMethod.Get, path, version);
        var (head, body) = await SendAsync(registry.Client, HttpMethod.Head, path, version);

        Assert.Equal(get.StatusCode, head.StatusCode);
        Assert.Equal(Header(get, ErrorCodeHeader), Header(head, ErrorCodeHeader));
        Assert.Equal(get.Headers.ETag, head.Headers.ETag);
        Assert.Equal(get.Content.Headers.ContentType, head.Content.Headers.ContentType);
        Assert.Empty(body);
    }

    [Theory]
    [InlineData("1.1")]
    [InlineData("2.0")]
    public async Task Head_without_a_token_answers_401_without_a_body(string version)
    {
        using var anonymous = registry.Host.CreateAnonymousClient();

        var (head, body) = await SendAsync(anonymous, HttpMethod.Head, DevicePath(PresentId), version);

        Assert.Equal(HttpStatusCode.Unauthorized, head.StatusCode);
        Assert.Equal("IotHubUnauthorizedAccess", Header(head, ErrorCodeHeader));
        Assert.Empty(body);
    }

    [Theory]
    [InlineData("1.1")]
    [InlineData("2.0")]
    public async Task Head_of_healthz_answers_200(string version)
    {
        using var anonymous = registry.Host.CreateAnonymousClient();

        var (head, body) = await SendAsync(anonymous, HttpMethod.Head, "healthz", version);

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Empty(body);
    }

    private async Task EnsurePresentAsync()
    {
        using var response = await registry.Client.GetDeviceAsync(PresentId);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            await registry.Client.CreateDeviceAsync(PresentId);
        }
    }

    /// <summary>Sends on exactly <paramref name="version"/> (TLS ALPN picks h2 for 2.0) and reads the whole body.</summary>
    private static async Task<(HttpResponseMessage Response, byte[] Body)> SendAsync(HttpClient http, HttpMethod method, string path, string version)
    {
        using var request = new HttpRequestMessage(method, path)
        {
            Version = Version.Parse(version),
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(Version.Parse(version), response.Version);
        return (response, body);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;
}
