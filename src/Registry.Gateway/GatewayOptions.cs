namespace Registry.Gateway;

/// <summary>Limits of the IoT Hub REST surface; bind from configuration (e.g. section "Gateway") to change them.</summary>
public sealed class GatewayOptions
{
    /// <summary>
    /// Largest request body accepted on device PUT and bulk POST, in bytes (default 256 KiB). A larger body
    /// answers 413 MessageTooLarge before anything is read into a grain.
    /// </summary>
    public long MaxRequestBodyBytes { get; set; } = 256 * 1024;
}
