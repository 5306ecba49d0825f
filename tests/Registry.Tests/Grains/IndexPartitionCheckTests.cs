using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using Orleans.TestingHost;
using Registry.Grains;
using Registry.Grains.Index;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Grains;

/// <summary>
/// In embedded mode the partition count is recorded in the in-memory storage too, so a silo joining with another count
/// is refused. (Durable storage and the whole host: <c>Durability.IndexPartitionCountTests</c>.)
/// </summary>
public sealed class IndexPartitionCheckTests(RegistryClusterFixture fixture) : IClassFixture<RegistryClusterFixture>
{
    private IndexPartitionCheck CheckWith(int partitions, string? serviceId = null, string? deviceStorage = null)
    {
        var silo = ((InProcessSiloHandle)fixture.Cluster.Primary!).SiloHost.Services;
        return new IndexPartitionCheck(
            silo.GetRequiredKeyedService<IGrainStorage>(StorageNames.Index),
            Options.Create(new RegistryIndexOptions { Partitions = partitions }),
            NullLogger<IndexPartitionCheck>.Instance,
            ServiceLifecycleStage.Active,
            serviceId,
            deviceStorage);
    }

    [Fact]
    public async Task A_silo_with_another_count_is_refused_by_the_count_the_running_silos_recorded_in_memory()
    {
        var refused = await Assert.ThrowsAsync<IndexPartitionMismatchException>(() => CheckWith(RegistryClusterFixture.Partitions / 2).Check(CancellationToken.None));

        Assert.Equal((RegistryClusterFixture.Partitions, RegistryClusterFixture.Partitions / 2), (refused.Stored, refused.Configured));
        await CheckWith(RegistryClusterFixture.Partitions).Check(CancellationToken.None);
    }

    [Theory]
    [InlineData("ServiceId", "registry2", "Memory")]
    [InlineData("DeviceStorage", "registry", "Blob")]
    public async Task A_silo_with_another_service_id_or_device_storage_than_recorded_is_refused_naming_both(string setting, string serviceId, string deviceStorage)
    {
        var refused = await Assert.ThrowsAsync<StorageLayoutMismatchException>(() =>
            CheckWith(RegistryClusterFixture.Partitions, serviceId, deviceStorage).Check(CancellationToken.None));

        Assert.Equal(setting, refused.Setting);
        Assert.Contains($"Registry:{setting}={refused.Stored}, but this silo is configured with Registry:{setting}={refused.Configured}", refused.Message, StringComparison.Ordinal);
        // The fixture's silos recorded the defaults; the refusal changed nothing, so they still pass.
        await CheckWith(RegistryClusterFixture.Partitions, "registry", "Memory").Check(CancellationToken.None);
    }
}
