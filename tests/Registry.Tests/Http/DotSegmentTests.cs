using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Registry.Abstractions;
using Registry.Gateway.Security;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary>
/// Kestrel removes dot segments before routing, so /devices/mine/. routes as device "mine" (and is authorized for
/// it) while the raw target names "."; the registry must refuse it rather than act on another device. HttpClient
/// removes dot segments itself, so these requests are written over raw TLS.
/// </summary>
public sealed class DotSegmentTests(RegistryHostFixture registry) : IClassFixture<RegistryHostFixture>
{
    [Theory]
    [InlineData("PUT", "/devices/mine/.")]
    [InlineData("PUT", "/devices/mine/%2E")]
    [InlineData("PUT", "/devices/mine/x/..")]
    [InlineData("DELETE", "/devices/mine/.")]
    [InlineData("GET", "/devices/mine/.")]
    public async Task A_dot_segment_after_the_id_is_refused_and_touches_no_device(string method, string path)
    {
        var host = registry.Host;
        var owner = host.Policy(SharedAccessPolicy.OwnerKeyName);
        // A token scoped to the one device "mine": whatever it reaches must be that device.
        var scoped = SharedAccessSignature.Create(host.HostName + "/devices/mine", owner.PrimaryKey, owner.KeyName, DateTimeOffset.UtcNow.AddHours(1));

        var response = await SendRawAsync(host, method, path + $"?{ApiVersion}", scoped, method == "PUT" ? "{}" : null);

        Assert.StartsWith("HTTP/1.1 400", response);
        Assert.Contains("iothub-errorcode: ArgumentInvalid", response, StringComparison.OrdinalIgnoreCase);
        // "." and ".." cannot be addressed over HTTP at all (Kestrel normalizes them away), so ask the grains.
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        foreach (var id in new[] { ".", "..", "mine" })
        {
            Assert.Null(await grains.GetGrain<IDeviceGrain>(id).Get());
        }
    }

    /// <summary>
    /// The ids "." and ".." are refused when created (bulk included), and their paths name no device: Kestrel turns
    /// /devices/. into the list and /devices/.. into the root, so both answer 400 rather than a list or an empty 404.
    /// </summary>
    [Theory]
    [InlineData("GET", "/devices/.")]
    [InlineData("GET", "/devices/%2E")]
    [InlineData("GET", "/devices/.%2E")]
    [InlineData("GET", "/devices/..")]
    [InlineData("PUT", "/devices/..")]
    [InlineData("DELETE", "/devices/..")]
    [InlineData("GET", "/devices/x/..")]
    public async Task A_path_naming_the_device_dot_or_dot_dot_answers_400_ArgumentInvalid(string method, string path)
    {
        await RefusedAsOwnerAsync(method, path);
        var grains = registry.Host.Services.GetRequiredService<IGrainFactory>();
        foreach (var id in new[] { ".", ".." })
        {
            Assert.Null(await grains.GetGrain<IDeviceGrain>(id).Get());
        }
    }

    /// <summary>
    /// A method that path does not serve once Kestrel resolved its dot segment (<c>DELETE /devices/%2E</c> routes as
    /// <c>DELETE /devices/</c>): the text names the path as sent. It named <c>/devices/</c>, which was never sent (hostile
    /// review, 2026-12-04).
    /// </summary>
    [Theory]
    [InlineData("DELETE", "/devices/%2E", "The path '/devices/%2E' has a dot segment where a device id belongs")]
    [InlineData("PUT", "/devices/.", "The path '/devices/.' has a dot segment where a device id belongs")]
    [InlineData("DELETE", "/jobs/x/..", "The path '/jobs/x/..' has a dot segment")]
    public async Task A_dot_segment_on_a_path_no_endpoint_serves_is_named_as_sent(string method, string path, string message) =>
        Assert.Contains(message, await RefusedAsOwnerAsync(method, path));

    /// <summary>Sends <paramref name="method"/> <paramref name="path"/> with an owner token; asserts 400 ArgumentInvalid and returns the response.</summary>
    private async Task<string> RefusedAsOwnerAsync(string method, string path)
    {
        var host = registry.Host;
        var owner = host.Policy(SharedAccessPolicy.OwnerKeyName);
        var token = SharedAccessSignature.Create(host.HostName, owner.PrimaryKey, owner.KeyName, DateTimeOffset.UtcNow.AddHours(1));

        var response = await SendRawAsync(host, method, path + $"?{ApiVersion}", token, method == "PUT" ? "{}" : null);

        Assert.StartsWith("HTTP/1.1 400", response);
        Assert.Contains("iothub-errorcode: ArgumentInvalid", response, StringComparison.OrdinalIgnoreCase);
        return response;
    }

    private static async Task<string> SendRawAsync(RegistryTestHost host, string method, string target, string authorization, string? body)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", host.BaseAddress.Port);
        // The host's certificate is trusted by the other tests; here only the bytes on the wire matter.
        await using var tls = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync("localhost");
        var content = body ?? "";
        var request = $"{method} {target} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {authorization}\r\n" +
            $"Content-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(content)}\r\nConnection: close\r\n\r\n{content}";
        await tls.WriteAsync(Encoding.UTF8.GetBytes(request));
        using var reader = new StreamReader(tls);
        return await reader.ReadToEndAsync();
    }
}
