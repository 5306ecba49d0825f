using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Registry.Gateway;
using Registry.Gateway.Throttling;
using static Registry.Tests.Infrastructure.MappedEndpoints;

namespace Registry.Tests.Throttling;

/// <summary>Which budget each endpoint spends: registry rights mean a registry operation unless the endpoint says otherwise.</summary>
public class OperationClassTests
{
    [Theory]
    [InlineData("GET", "/devices/")]
    [InlineData("GET", "/devices/{id}")]
    [InlineData("PUT", "/devices/{id}")]
    [InlineData("DELETE", "/devices/{id}")]
    [InlineData("POST", "/devices")]
    [InlineData("GET", "/statistics/devices")]
    public void Registry_endpoints_are_registry_operations(string method, string route) =>
        Assert.Equal(OperationClass.RegistryOperations, OperationClassifier.Classify(Endpoint(method, route)));

    [Fact]
    public void Liveness_is_never_throttled() => Assert.Null(OperationClassifier.Classify(Endpoint("GET", "/healthz")));

    [Fact]
    public void A_declared_operation_class_wins_over_the_registry_right() =>
        Assert.Equal(OperationClass.JobOperations, OperationClassifier.Classify(
            Metadata(RequiredAccess.RegistryWrite, new OperationClassMetadata(OperationClass.JobOperations))));

    [Fact]
    public void Rights_other_than_registry_rights_are_not_registry_operations() =>
        Assert.Null(OperationClassifier.Classify(Metadata(new RequiredAccess(AccessRights.ServiceConnect))));

    [Fact]
    public void WithOperationClass_adds_the_metadata()
    {
        var app = WebApplication.CreateBuilder().Build();
        app.MapGet("/jobs", () => "").WithMetadata(RequiredAccess.RegistryRead).WithOperationClass(OperationClass.JobOperations);

        var endpoint = ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).Single();
        Assert.Equal(OperationClass.JobOperations, OperationClassifier.Classify(endpoint));
    }

    private static Endpoint Metadata(params object[] metadata) => new(null, new EndpointMetadataCollection(metadata), "test");
}
