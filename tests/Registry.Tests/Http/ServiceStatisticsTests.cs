using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Registry.Abstractions;
using Registry.Tests.Infrastructure;
using Registry.Tests.Security;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Http;

/// <summary><c>GET /statistics/service</c>: IoT Hub's ServiceStatistics, read with ServiceConnect (the C# ServiceClient's right).</summary>
public sealed class ServiceStatisticsTests(SecuredRegistryFixture registry) : IClassFixture<SecuredRegistryFixture>
{
    [Fact]
    public async Task Service_statistics_count_the_devices_connected_now()
    {
        var (id, _, _) = await registry.NewDeviceAsync("stat");
        var (other, _, _) = await registry.NewDeviceAsync("stat");
        var grains = registry.Host.Services.GetRequiredService<IGrainFactory>();
        var session = Guid.NewGuid();
        await grains.GetGrain<IDeviceGrain>(id).Connect(new DeviceSession(session, null, null));
        await grains.GetGrain<IDeviceGrain>(other).Connect(new DeviceSession(Guid.NewGuid(), null, null));
        using var service = registry.Host.CreateClient("service");

        Assert.Equal("{\"connectedDeviceCount\":2}", await ReadAsync(service));

        await grains.GetGrain<IDeviceGrain>(id).Disconnect(session);
        Assert.Equal("{\"connectedDeviceCount\":1}", await ReadAsync(service));
    }

    [Theory]
    [InlineData("registryRead")]
    [InlineData("registryReadWrite")]
    [InlineData("device")]
    public async Task Service_statistics_need_ServiceConnect(string policy)
    {
        using var client = registry.Host.CreateClient(policy);
        using var response = await client.GetAsync($"statistics/service?{ApiVersion}");
        await SecurityAssert.UnauthorizedAsync(response, policy);
    }

    private static async Task<string> ReadAsync(HttpClient client)
    {
        using var response = await client.GetAsync($"statistics/service?{ApiVersion}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(JsonContentType, response.Content.Headers.ContentType?.ToString());
        return await response.Content.ReadAsStringAsync();
    }
}
