namespace Registry.Abstractions;

/// <summary>
/// IoT Hub's error codes; the numeric value is IoT Hub's own (status × 1000 + n), so the HTTP status
/// of a failure is always <c>code / 1000</c>.
/// </summary>
[GenerateSerializer, Alias("registry.RegistryErrorCode")]
public enum RegistryErrorCode
{
    InvalidProtocolVersion = 400001,
    ArgumentInvalid = 400004,
    ArgumentNull = 400005,
    IotHubFormatError = 400006,
    DeviceDefinedMultipleTimes = 400011,
    DeviceInvalidResultCount = 400012,
    BulkRegistryOperationFailure = 400013,
    /// <summary>IoT Hub's routing error for a source no route can name.</summary>
    InvalidSourceOnRoute = 400101,
    /// <summary>IoT Hub's routing error for a source no route is configured for.</summary>
    RoutingNotEnabled = 400102,
    IotHubUnauthorizedAccess = 401002,
    IotHubQuotaExceeded = 403002,
    JobQuotaExceeded = 403003,
    DeviceNotFound = 404001,
    JobNotFound = 404002,
    DeviceAlreadyExists = 409001,
    PreconditionFailed = 412001,
    MessageTooLarge = 413001,
    TooManyDevices = 413002,
    ThrottlingException = 429001,
    ServerError = 500001,
    ServiceUnavailable = 503001,
}

/// <summary>Helpers over <see cref="RegistryErrorCode"/>.</summary>
public static class RegistryErrorCodeExtensions
{
    /// <summary>The HTTP status IoT Hub answers with for this code.</summary>
    public static int HttpStatus(this RegistryErrorCode code) => (int)code / 1000;
}
