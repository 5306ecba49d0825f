using Microsoft.AspNetCore.Http;

namespace Registry.Gateway.Throttling;

/// <summary>Endpoint → throttle; <c>null</c> means not throttled (liveness, catch-alls without a right).</summary>
internal static class OperationClassifier
{
    public static OperationClass? Classify(Endpoint? endpoint)
    {
        if (endpoint?.Metadata.GetMetadata<OperationClassMetadata>() is { } declared)
        {
            return declared.Operation;
        }
        return endpoint?.Metadata.GetMetadata<RequiredAccess>() is { } access && (access.Rights & AccessRights.RegistryRead) != 0
            ? OperationClass.RegistryOperations
            : null;
    }

    /// <summary>The words IoT Hub's quota table uses, for error messages.</summary>
    public static string Describe(OperationClass operation) => operation switch
    {
        OperationClass.RegistryOperations => "identity registry operations",
        OperationClass.JobOperations => "job operations",
        OperationClass.JobDeviceOperations => "job device operations",
        OperationClass.DeviceConnections => "new device connections",
        OperationClass.DeviceToCloudSends => "device-to-cloud sends",
        OperationClass.TwinReads => "twin reads",
        OperationClass.TwinUpdates => "twin updates",
        OperationClass.Queries => "queries",
        _ => operation.ToString(),
    };
}
