using Microsoft.AspNetCore.Builder;

namespace Registry.Gateway.Throttling;

/// <summary>
/// IoT Hub's operation throttles (docs/wire-contract.md §11): each is a separate per-hub budget, so exhausting one never
/// slows another. The HTTP surface picks one per endpoint. Only <see cref="RegistryOperations"/> and <see cref="JobOperations"/>
/// have endpoints today; the others are IoT Hub's budgets for operations this registry does not serve yet (docs/wire-contract.md §13).
/// </summary>
public enum OperationClass
{
    /// <summary>Identity registry create, retrieve, list, update, delete; one bulk request counts as one.</summary>
    RegistryOperations,

    /// <summary>Job create, get, list, cancel.</summary>
    JobOperations,

    /// <summary>What a running job does to each device (update twin, invoke method).</summary>
    JobDeviceOperations,

    /// <summary>New device connections (a device's first request); not the number of open connections.</summary>
    DeviceConnections,

    /// <summary>Device-to-cloud sends.</summary>
    DeviceToCloudSends,

    TwinReads,

    TwinUpdates,

    Queries,
}

/// <summary>
/// Endpoint metadata naming the throttle an endpoint counts against. Without it, an endpoint that needs
/// RegistryRead or RegistryWrite counts as a registry operation; an endpoint with the same rights that spends another
/// budget says so with <see cref="ThrottlingEndpointExtensions.WithOperationClass"/>.
/// </summary>
public sealed record OperationClassMetadata(OperationClass Operation);

/// <summary>Declares an endpoint's throttle where <see cref="RequiredAccess"/> alone would pick the wrong one.</summary>
public static class ThrottlingEndpointExtensions
{
    public static TBuilder WithOperationClass<TBuilder>(this TBuilder builder, OperationClass operation)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new OperationClassMetadata(operation));
}
