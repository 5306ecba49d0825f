using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Registry.Gateway.Throttling;

/// <summary>
/// IoT Hub's operation throttles (wire spec §11): each is a separate per-hub budget, so exhausting one never
/// slows another. The HTTP surface picks one per endpoint; the MQTT edge and job runners name one when they call
/// <see cref="IThrottle"/>.
/// </summary>
public enum OperationClass
{
    /// <summary>Identity registry create, retrieve, list, update, delete; one bulk request counts as one.</summary>
    RegistryOperations,

    /// <summary>Job create, get, list, cancel.</summary>
    JobOperations,

    /// <summary>What a running job does to each device (update twin, invoke method).</summary>
    JobDeviceOperations,

    /// <summary>New device connections (MQTT CONNECT, first HTTPS request); not the number of open connections.</summary>
    DeviceConnections,

    /// <summary>Device-to-cloud sends.</summary>
    DeviceToCloudSends,

    TwinReads,

    TwinUpdates,

    Queries,
}

/// <summary>
/// Endpoint metadata naming the throttle an endpoint counts against. Without it, an endpoint that needs
/// RegistryRead or RegistryWrite counts as a registry operation; a job or twin endpoint, which needs the same rights,
/// must say so with <see cref="ThrottlingEndpointExtensions.WithOperationClass"/>.
/// </summary>
public sealed record OperationClassMetadata(OperationClass Operation);

/// <summary>Declares an endpoint's throttle where <see cref="RequiredAccess"/> alone would pick the wrong one.</summary>
public static class ThrottlingEndpointExtensions
{
    public static TBuilder WithOperationClass<TBuilder>(this TBuilder builder, OperationClass operation)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new OperationClassMetadata(operation));
}
