using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Registry.Gateway.Throttling;

namespace Registry.Tests.Throttling;

/// <summary><see cref="IThrottle"/> as the MQTT edge and job runners will call it: one budget per throttle, per hub.</summary>
public class HubThrottleTests
{
    private readonly FakeTimeProvider _clock = new();

    [Fact]
    public void S1_with_one_unit_admits_100_registry_operations_then_refuses_for_one_second()
    {
        var throttle = Throttle(new ThrottlingOptions { Enabled = true, Tier = HubTier.S1, Units = 1 });

        Assert.All(Enumerable.Range(0, 100), _ => Assert.True(throttle.TryAcquire(OperationClass.RegistryOperations).IsAcquired));
        var refused = throttle.TryAcquire(OperationClass.RegistryOperations);

        Assert.False(refused.IsAcquired);
        Assert.Equal(TimeSpan.FromMilliseconds(600), refused.RetryAfter);
        Assert.Equal(1, refused.RetryAfterSeconds);
        _clock.Advance(refused.RetryAfter);
        Assert.True(throttle.TryAcquire(OperationClass.RegistryOperations).IsAcquired);
    }

    [Fact]
    public void Exhausting_one_throttle_leaves_the_others_untouched()
    {
        var throttle = Throttle(new ThrottlingOptions { Enabled = true, Overrides = { ["RegistryOperations"] = "1/h" } });

        Assert.True(throttle.TryAcquire(OperationClass.RegistryOperations).IsAcquired);
        Assert.False(throttle.TryAcquire(OperationClass.RegistryOperations).IsAcquired);

        Assert.All(Enum.GetValues<OperationClass>().Where(o => o != OperationClass.RegistryOperations),
            operation => Assert.True(throttle.TryAcquire(operation).IsAcquired));
    }

    [Fact]
    public void An_override_replaces_the_tier_rate_of_that_throttle_only()
    {
        var throttle = Throttle(new ThrottlingOptions { Enabled = true, Tier = HubTier.S2, Units = 2, Overrides = { ["deviceconnections"] = "7/s" } });

        Assert.Equal(ThrottleRate.PerSecond(7), throttle.Rates[OperationClass.DeviceConnections]);
        Assert.Equal(ThrottleRate.PerMinute(200), throttle.Rates[OperationClass.RegistryOperations]);
        Assert.Equal(7, Enumerable.Range(0, 10).Count(_ => throttle.TryAcquire(OperationClass.DeviceConnections).IsAcquired));
    }

    [Fact]
    public void Disabled_throttle_admits_everything()
    {
        var throttle = Throttle(new ThrottlingOptions { Tier = HubTier.Free });

        Assert.False(throttle.IsEnabled);
        Assert.All(Enumerable.Range(0, 10_000), _ => Assert.True(throttle.TryAcquire(OperationClass.RegistryOperations).IsAcquired));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(6_000_000, 1)]
    [InlineData(10_000_000, 1)]
    [InlineData(10_000_001, 2)]
    [InlineData(12_000_000_000, 1200)]
    public void Retry_after_header_is_whole_seconds_rounded_up_and_at_least_one(long ticks, int seconds) =>
        Assert.Equal(seconds, new ThrottleDecision(false, TimeSpan.FromTicks(ticks)).RetryAfterSeconds);

    private HubThrottle Throttle(ThrottlingOptions options) =>
        new(Options.Create(options), _clock, NullLogger<HubThrottle>.Instance);
}
