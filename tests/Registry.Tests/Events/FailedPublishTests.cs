using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.TestingHost;
using Registry.Abstractions;
using Registry.Grains.Events;
using Registry.Host;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Events;

/// <summary>
/// A notification that cannot be published is logged and lost: the create or delete it reports was acknowledged and
/// stays so (at most once, README "Lifecycle notifications").
/// </summary>
public sealed class FailedPublishTests(FailedPublishTests.Fixture fixture) : IClassFixture<FailedPublishTests.Fixture>
{
    [Fact]
    public async Task A_failed_publish_neither_fails_nor_undoes_the_acknowledged_create_or_delete_and_is_logged()
    {
        var id = NewId();
        var device = fixture.Cluster.GrainFactory.GetGrain<IDeviceGrain>(id);

        var created = await device.Create(Sas(id));
        Assert.Equal(created.ETag, (await device.Get())?.ETag);
        await device.Delete(ETagCondition.Any);
        Assert.Null(await device.Get());

        var failures = Fixture.Logs.Lines
            .Where(l => l.Category == typeof(LifecycleNotifications).FullName && l.Level == LogLevel.Error && l.Text.Contains(id, StringComparison.Ordinal))
            .Select(l => l.Text).ToArray();
        Assert.Equal(2, failures.Length);
        Assert.Contains(failures, t => t.Contains(RegistryEventTypes.CreateDeviceIdentity, StringComparison.Ordinal));
        Assert.Contains(failures, t => t.Contains(RegistryEventTypes.DeleteDeviceIdentity, StringComparison.Ordinal));
        Assert.All(failures, t => Assert.Contains("stream is down", t, StringComparison.Ordinal));
    }

    public sealed class Fixture : IAsyncLifetime
    {
        public static readonly CapturedLogs Logs = new();

        public TestCluster Cluster { get; private set; } = null!;

        public async ValueTask InitializeAsync() => Cluster = await RegistryClusterFixture.DeployAsync<Configurator>("failing-sink");

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
                // Registered before the registry's own (which only TryAdds), so the grains publish into the failure.
                silo.Services.AddSingleton<IRegistryEventSink, FailingSink>();
                silo.Services.AddSingleton<ILoggerProvider>(Logs);
                SiloConfiguration.ConfigureServices(silo, new RegistrySettings { IndexPartitions = 4 });
            }
        }
    }

    /// <summary>Every source routed, every publish failing, as a stream whose storage is away.</summary>
    private sealed class FailingSink : IRegistryEventSink
    {
        public bool IsRouted(string source) => true;

        public Task Publish(RegistryEvent registryEvent) => Task.FromException(new InvalidOperationException("The event stream is down."));
    }
}
