namespace Registry.Abstractions;

/// <summary>
/// IoT Hub's request-size rules, each owned here once. The gateway applies them to the wire request before it
/// splits items (a whole-request refusal must come before any item is tried); the registry grain applies the same
/// checks to its own callers, so a caller that skips the gateway meets the same rules.
/// </summary>
public static class RegistryLimits
{
    /// <summary>Most items in one bulk registry call.</summary>
    public const int MaxBulkOperations = 100;

    /// <summary>Most devices in one page of <c>GET /devices</c> (IoT Hub's <c>top</c> maximum).</summary>
    public const int MaxPageSize = 1000;

    /// <summary>Most device ids in one <see cref="IHeartbeatBatchGrain.Heartbeat"/> call.</summary>
    public const int MaxHeartbeatBatch = 1000;

    /// <summary>
    /// IoT Hub's largest device-to-cloud message (256 KB): the body with its properties, and the whole request of an
    /// HTTPS batch. The same limit on every device transport.
    /// </summary>
    public const int MaxDeviceMessageBytes = 256 * 1024;

    /// <summary>The page size to serve: a count outside 1..<see cref="MaxPageSize"/> means the largest page, as <c>top</c> does.</summary>
    public static int PageSize(int requested) => requested is < 1 or > MaxPageSize ? MaxPageSize : requested;

    /// <summary>Refuses an empty bulk call (ArgumentInvalid) and one over <see cref="MaxBulkOperations"/> (TooManyDevices).</summary>
    public static void EnsureBulkCount(int count)
    {
        if (count == 0)
        {
            throw RegistryException.Invalid("The bulk request has no devices.");
        }
        if (count > MaxBulkOperations)
        {
            throw new RegistryException(RegistryErrorCode.TooManyDevices,
                $"A bulk request may hold at most {MaxBulkOperations} devices, and this one holds {count}.");
        }
    }

    /// <summary>Refuses a bulk call that names one device id twice (DeviceDefinedMultipleTimes); ids compare exactly.</summary>
    public static void EnsureDistinctDeviceIds(IEnumerable<string?> deviceIds)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in deviceIds)
        {
            if (id is not null && !seen.Add(id))
            {
                throw new RegistryException(RegistryErrorCode.DeviceDefinedMultipleTimes,
                    $"The device '{id}' is defined more than once in the bulk request.");
            }
        }
    }
}
