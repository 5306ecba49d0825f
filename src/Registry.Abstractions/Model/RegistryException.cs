namespace Registry.Abstractions;

/// <summary>
/// A domain failure with IoT Hub's error code. Grains throw it; the gateway maps it to the wire in one
/// place. Serializable so it crosses silo boundaries with its code intact.
/// </summary>
[GenerateSerializer, Alias("registry.RegistryException")]
public sealed class RegistryException : Exception
{
    public RegistryException(RegistryErrorCode code, string message) : base(message) => Code = code;

    [Id(0)] public RegistryErrorCode Code { get; private set; }

    public static RegistryException DeviceNotFound(string deviceId) =>
        new(RegistryErrorCode.DeviceNotFound, $"Device {deviceId} not registered");

    public static RegistryException DeviceAlreadyExists(string deviceId) =>
        new(RegistryErrorCode.DeviceAlreadyExists, $"A device with ID '{deviceId}' is already registered.");

    public static RegistryException PreconditionFailed(string deviceId) =>
        new(RegistryErrorCode.PreconditionFailed, $"Precondition failed: the ETag does not match device '{deviceId}'.");

    public static RegistryException Invalid(string message) => new(RegistryErrorCode.ArgumentInvalid, message);
}
