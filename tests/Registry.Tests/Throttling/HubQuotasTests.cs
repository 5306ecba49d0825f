using Registry.Gateway.Throttling;
using static Registry.Gateway.Throttling.OperationClass;

namespace Registry.Tests.Throttling;

/// <summary>The throttles a hub of each tier and size enforces, number for number from IoT Hub's quota table (docs/wire-contract.md §11).</summary>
public class HubQuotasTests
{
    [Theory]
    [InlineData(HubTier.Free, 1, RegistryOperations, "100/min")]
    [InlineData(HubTier.B1, 1, RegistryOperations, "100/min")]
    [InlineData(HubTier.S1, 1, RegistryOperations, "100/min")]
    [InlineData(HubTier.S1, 4, RegistryOperations, "400/min")]
    [InlineData(HubTier.B2, 1, RegistryOperations, "100/min")]
    [InlineData(HubTier.S2, 3, RegistryOperations, "300/min")]
    [InlineData(HubTier.B3, 1, RegistryOperations, "5000/min")]
    [InlineData(HubTier.S3, 2, RegistryOperations, "10000/min")]
    [InlineData(HubTier.S1, 1, JobOperations, "100/min")]
    [InlineData(HubTier.S2, 2, JobOperations, "200/min")]
    [InlineData(HubTier.S3, 1, JobOperations, "5000/min")]
    [InlineData(HubTier.S1, 5, JobDeviceOperations, "10/s")]
    [InlineData(HubTier.S2, 1, JobDeviceOperations, "10/s")]
    [InlineData(HubTier.S2, 20, JobDeviceOperations, "20/s")]
    [InlineData(HubTier.S3, 2, JobDeviceOperations, "100/s")]
    [InlineData(HubTier.Free, 1, DeviceConnections, "100/s")]
    [InlineData(HubTier.S1, 2, DeviceConnections, "100/s")]
    [InlineData(HubTier.S1, 9, DeviceConnections, "108/s")]
    [InlineData(HubTier.B2, 1, DeviceConnections, "120/s")]
    [InlineData(HubTier.S2, 3, DeviceConnections, "360/s")]
    [InlineData(HubTier.S3, 1, DeviceConnections, "6000/s")]
    [InlineData(HubTier.S3, 2, DeviceConnections, "12000/s")]
    [InlineData(HubTier.B1, 1, DeviceToCloudSends, "100/s")]
    [InlineData(HubTier.S1, 9, DeviceToCloudSends, "108/s")]
    [InlineData(HubTier.S2, 2, DeviceToCloudSends, "240/s")]
    [InlineData(HubTier.S3, 10, DeviceToCloudSends, "60000/s")]
    [InlineData(HubTier.S1, 5, TwinReads, "100/s")]
    [InlineData(HubTier.S2, 1, TwinReads, "100/s")]
    [InlineData(HubTier.S2, 20, TwinReads, "200/s")]
    [InlineData(HubTier.S3, 2, TwinReads, "1000/s")]
    [InlineData(HubTier.S1, 5, TwinUpdates, "50/s")]
    [InlineData(HubTier.S2, 1, TwinUpdates, "50/s")]
    [InlineData(HubTier.S2, 20, TwinUpdates, "100/s")]
    [InlineData(HubTier.S3, 1, TwinUpdates, "250/s")]
    [InlineData(HubTier.S1, 1, Queries, "20/min")]
    [InlineData(HubTier.S2, 2, Queries, "40/min")]
    [InlineData(HubTier.S3, 1, Queries, "1000/min")]
    public void Tier_and_units_give_the_documented_rate(HubTier tier, int units, OperationClass operation, string rate) =>
        Assert.Equal(rate, HubQuotas.For(tier, units, operation).ToString());

    [Fact]
    public void Every_tier_has_a_rate_for_every_throttle()
    {
        foreach (var tier in Enum.GetValues<HubTier>())
        {
            Assert.Equal(Enum.GetValues<OperationClass>(), HubQuotas.For(tier, 1).Keys.Order());
        }
    }

    [Fact]
    public void Per_minute_rates_are_per_minute_and_per_second_rates_per_second()
    {
        Assert.Equal(ThrottleRate.PerMinute(100), HubQuotas.For(HubTier.S1, 1, RegistryOperations));
        Assert.Equal(ThrottleRate.PerSecond(120), HubQuotas.For(HubTier.S2, 1, DeviceConnections));
    }
}
