namespace Registry.Abstractions;

/// <summary>
/// Storage did not answer in time, or could not be reached: IoT Hub's 503 <c>ServiceUnavailable</c>, which the SDKs
/// retry. An <see cref="OrleansException"/> so that Orleans passes it from grain storage to the caller as it is,
/// instead of wrapping it into a generic storage error (which the gateway could only answer with 500).
/// </summary>
[GenerateSerializer, Alias("registry.StorageUnavailableException")]
public sealed class StorageUnavailableException(string message) : OrleansException(message);
