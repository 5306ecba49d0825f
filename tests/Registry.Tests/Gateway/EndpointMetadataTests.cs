using Registry.Gateway;
using static Registry.Tests.Infrastructure.MappedEndpoints;

namespace Registry.Tests.Gateway;

public class EndpointMetadataTests
{
    [Theory]
    [InlineData("GET", "/devices/", AccessRights.RegistryRead)]
    [InlineData("GET", "/devices/{id}", AccessRights.RegistryRead)]
    [InlineData("PUT", "/devices/{id}", AccessRights.RegistryWrite)]
    [InlineData("DELETE", "/devices/{id}", AccessRights.RegistryWrite)]
    [InlineData("POST", "/devices", AccessRights.RegistryWrite)]
    [InlineData("GET", "/statistics/devices", AccessRights.RegistryRead)]
    [InlineData("GET", "/devices/{id}/heartbeat", AccessRights.RegistryRead)]
    [InlineData("PUT", "/devices/{id}/heartbeat", AccessRights.RegistryWrite)]
    [InlineData("GET", "/heartbeat/outages", AccessRights.RegistryRead)]
    public void Registry_endpoints_declare_the_access_they_need(string method, string route, AccessRights rights) =>
        Assert.Equal(new RequiredAccess(rights), Endpoint(method, route).Metadata.GetMetadata<RequiredAccess>());

    [Fact]
    public void Liveness_needs_no_access() => Assert.Null(Endpoint("GET", "/healthz").Metadata.GetMetadata<RequiredAccess>());

    [Fact]
    public void Registry_write_includes_registry_read()
    {
        Assert.True(RequiredAccess.RegistryRead.IsSatisfiedBy(AccessRights.RegistryWrite));
        Assert.False(RequiredAccess.RegistryWrite.IsSatisfiedBy(AccessRights.RegistryRead));
        Assert.False(RequiredAccess.RegistryRead.IsSatisfiedBy(AccessRights.ServiceConnect | AccessRights.DeviceConnect));
    }
}
