using static Registry.Gateway.Throttling.ThrottleRate;

namespace Registry.Gateway.Throttling;

/// <summary>IoT Hub's pricing tiers; the throttles group them as Free/B1/S1, B2/S2 and B3/S3 (docs/wire-contract.md §11).</summary>
public enum HubTier
{
    Free,
    B1,
    B2,
    B3,
    S1,
    S2,
    S3,
}

/// <summary>
/// IoT Hub's operation throttles by tier and unit count, transcribed from IoT Hub's quota table (docs
/// <c>iot-hub-devguide-quotas-throttling.md</c>; docs/wire-contract.md §11) so a hub of any size can be reproduced by naming it.
/// "Higher of 100/s or 12/s/unit" is <c>max(100, 12 × units)</c>.
/// </summary>
public static class HubQuotas
{
    // One row per throttle: the rate for Free/B1/S1, for B2/S2 and for B3/S3, as a function of the unit count.
    private static readonly Dictionary<OperationClass, Func<long, ThrottleRate>[]> Table = new()
    {
        [OperationClass.RegistryOperations] = [u => PerMinute(100 * u), u => PerMinute(100 * u), u => PerMinute(5_000 * u)],
        [OperationClass.JobOperations] = [u => PerMinute(100 * u), u => PerMinute(100 * u), u => PerMinute(5_000 * u)],
        [OperationClass.JobDeviceOperations] = [_ => PerSecond(10), u => PerSecond(Math.Max(10, u)), u => PerSecond(50 * u)],
        [OperationClass.DeviceConnections] = [u => PerSecond(Math.Max(100, 12 * u)), u => PerSecond(120 * u), u => PerSecond(6_000 * u)],
        [OperationClass.DeviceToCloudSends] = [u => PerSecond(Math.Max(100, 12 * u)), u => PerSecond(120 * u), u => PerSecond(6_000 * u)],
        [OperationClass.TwinReads] = [_ => PerSecond(100), u => PerSecond(Math.Max(100, 10 * u)), u => PerSecond(500 * u)],
        [OperationClass.TwinUpdates] = [_ => PerSecond(50), u => PerSecond(Math.Max(50, 5 * u)), u => PerSecond(250 * u)],
        [OperationClass.Queries] = [u => PerMinute(20 * u), u => PerMinute(20 * u), u => PerMinute(1_000 * u)],
    };

    /// <summary>The rate a hub of <paramref name="tier"/> with <paramref name="units"/> units allows for <paramref name="operation"/>.</summary>
    public static ThrottleRate For(HubTier tier, int units, OperationClass operation)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(units, 1);
        var column = tier switch
        {
            HubTier.Free or HubTier.B1 or HubTier.S1 => 0,
            HubTier.B2 or HubTier.S2 => 1,
            HubTier.B3 or HubTier.S3 => 2,
            _ => throw new ArgumentOutOfRangeException(nameof(tier), tier, null),
        };
        return Table[operation][column](units);
    }

    /// <summary>Every throttle of such a hub.</summary>
    public static IReadOnlyDictionary<OperationClass, ThrottleRate> For(HubTier tier, int units) =>
        Enum.GetValues<OperationClass>().ToDictionary(operation => operation, operation => For(tier, units, operation));
}
