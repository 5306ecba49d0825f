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

    [Theory]
    [InlineData(Storage, null, null, 500)] // 32 groups, the default: as before the setting
    [InlineData(Storage, 256, null, 4_000)]
    [InlineData(Storage, 1024, null, 16_000)] // a chunk holds ~16 lines of each group
    [InlineData(Storage, 40, null, 500)]
    [InlineData(null, 1024, null, 500)] // embedded: no storage groups
    [InlineData(Storage, 1024, 2_000, 2_000)]
    public void Chunk_lines_unset_grow_with_the_storage_groups_and_a_setting_always_wins(string? connectionString, int? groups, int? configured, int expected)
    {
        var settings = new RegistrySettings { StorageConnectionString = connectionString, ImportChunkLines = configured };
        if (groups is { } g)
        {
            settings.StorageGroups = g;
        }

        Assert.Equal(expected, settings.EffectiveImportChunkLines);
    }
}
