using Registry.Host;

namespace Registry.Tests.Host;

/// <summary>
/// How many import chunks run at once, by device storage: batched rows share their group's transactions, so more lines
/// in flight fill them; Orleans' providers send a request per row, which more lines in flight only pile onto storage.
/// </summary>
public sealed class ImportChunksInFlightTests
{
    private const string Storage = "UseDevelopmentStorage=true";

    [Theory]
    [InlineData(Storage, "Batched", null, 6)]
    [InlineData(Storage, "batched", null, 6)]
    [InlineData(Storage, "Table", null, 2)]
    [InlineData(Storage, "Blob", null, 2)]
    [InlineData(null, "Batched", null, 2)] // embedded: memory storage whatever DeviceStorage says
    [InlineData(Storage, "Batched", 3, 3)]
    [InlineData(Storage, "Table", 5, 5)]
    public void Unset_it_follows_the_device_storage_and_a_setting_always_wins(string? connectionString, string deviceStorage, int? configured, int expected)
    {
        var settings = new RegistrySettings { StorageConnectionString = connectionString, DeviceStorage = deviceStorage, ImportChunksInFlight = configured };

        Assert.Equal(expected, settings.EffectiveImportChunksInFlight);
    }
}
