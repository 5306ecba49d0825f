using Registry.Host;

namespace Registry.Tests.Host;

/// <summary>
/// A silo's index verification checks in flight (after its partitions activate) take a quarter of its storage slots, so
/// the checks of a restart leave the rest to requests; in memory mode, where they cost only CPU, the default's 16.
/// </summary>
public sealed class IndexVerificationsInFlightTests
{
    private const string Storage = "UseDevelopmentStorage=true";

    [Theory]
    [InlineData(Storage, null, 16)]
    [InlineData(Storage, 256, 64)]
    [InlineData(Storage, 8, 2)]
    [InlineData(Storage, 1, 1)]
    [InlineData(null, 8, 16)] // embedded: no storage slots
    public void Verification_checks_take_a_quarter_of_the_storage_slots_and_at_least_one(string? connectionString, int? storageSlots, int expected)
    {
        var settings = new RegistrySettings { StorageConnectionString = connectionString };
        if (storageSlots is { } slots)
        {
            settings.GrainStorageRequestsInFlight = slots;
        }

        Assert.Equal(expected, settings.IndexVerificationsInFlight);
    }
}
