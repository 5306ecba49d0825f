using System.Globalization;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Security;

/// <summary>The registry has one clock, the <see cref="TimeProvider"/> in DI: the gateway's token checks and the device grain both read it.</summary>
public sealed class RegistryClockTests(SecuredRegistryFixture registry) : IClassFixture<SecuredRegistryFixture>
{
    [Fact]
    public async Task A_device_created_after_the_clock_moves_carries_the_registry_clock_time()
    {
        registry.Clock.Advance(TimeSpan.FromMinutes(7));

        var device = await registry.Owner.CreateDeviceAsync("clock-created");

        var statusUpdated = DateTimeOffset.Parse((string)device["statusUpdatedTime"]!, CultureInfo.InvariantCulture);
        Assert.Equal(registry.Clock.GetUtcNow(), statusUpdated);
    }
}
