using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;
using Registry.Grains;
using Registry.Grains.Devices;
using Registry.Grains.Index;
using Registry.Grains.Storage;
using Registry.Host;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// A two-silo cluster whose device and index storages fail on demand (in-process silos share the static faults), and
/// whose partitions' verification passes scan the device rows a test lists (<see cref="ListedDeviceRows"/>).
/// </summary>
public sealed class FlakyRegistryClusterFixture : IAsyncLifetime
{
    public static readonly StorageFaults DeviceFaults = new();
    public static readonly StorageFaults IndexFaults = new();

    public TestCluster Cluster { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Cluster = await RegistryClusterFixture.DeployAsync<Configurator>("flaky");

    public async ValueTask DisposeAsync()
    {
        if (Cluster is null)
        {
            return; // its start failed, and that failure is the one reported
        }
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    private sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            // Registered before the registry's own (which only TryAdds), so the grains write through the faults.
            silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Registry, (sp, _) => new FlakyGrainStorage(
                new KeyEscapingGrainStorage(sp.GetRequiredKeyedService<IGrainStorage>(SiloConfiguration.DeviceStore)), DeviceFaults,
                sp.GetRequiredService<Orleans.Serialization.DeepCopier>()));
            silo.Services.AddSingleton<IIndexStore>(sp => new FlakyIndexStore(
                sp.GetRequiredKeyedService<IIndexStore>(SiloConfiguration.IndexEntryStore), IndexFaults));
            // Rows a partition's verification pass scans, as it scans batched device rows: only those a test lists.
            silo.Services.AddSingleton<IDevicePartitionScan>(new ListedDeviceRows(RegistryClusterFixture.Partitions));
            silo.Services.AddSingleton(sp => new StoredPartitionRows(
                sp.GetRequiredService<IDevicePartitionScan>(), RegistryClusterFixture.Partitions, sp.GetRequiredService<IndexVerificationSlots>()));
            SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = RegistryClusterFixture.Partitions });
            silo.Services.Configure<RegistryIndexOptions>(o => o.RepairInterval = TimeSpan.FromMilliseconds(100));
        }
    }
}
