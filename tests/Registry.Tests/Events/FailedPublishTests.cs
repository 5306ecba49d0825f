using Microsoft.Extensions.Configuration;
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
/// A notification the event stream refuses neither fails nor undoes the create or delete it reports, and is not lost: it
/// is sent again once the stream takes it, in its device's order (README "Lifecycle notifications").
/// </summary>
public sealed class FailedPublishTests(FailedPublishTests.Fixture fixture) : IClassFixture<FailedPublishTests.Fixture>
{
    /// <summary>
    /// Before 2026-12-06 a refused publish was logged and lost (a loaded Azurite lost 302 of a 2,150-line import's
    /// notifications, review 2026-12-06). The retries run off the grain that raised the notification, through the real
    /// (memory) stream, to a client app's subscription.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_refused_publish_neither_fails_nor_undoes_the_create_or_delete_and_is_delivered_once_the_stream_takes_it()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var subscriber = await EventRecorder.SubscribeAsync(fixture.Cluster.Client, RegistryEventSources.DeviceLifecycle);
        var id = NewId();
        var device = fixture.Cluster.GrainFactory.GetGrain<IDeviceGrain>(id);
        FlakySink.Down = true;
        try
        {
            var created = await device.Create(Sas(id));
            Assert.Equal(created.ETag, (await device.Get())?.ETag);
            await device.Delete(ETagCondition.Any);
            Assert.Null(await device.Get());
            Assert.Equal(0, FlakySink.Sent(id));
        }
        finally
        {
            FlakySink.Down = false;
        }

        // The retries' pause is 50 ms here: wait for both to go out, bounded (before 2026-12-06 they never came).
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (FlakySink.Sent(id) < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, ct);
        }
        Assert.True(FlakySink.Sent(id) == 2, $"{FlakySink.Sent(id)} of the device's 2 notifications reached the stream once it took them again");
        var events = await subscriber.UntilBarrierAsync([id], ct);

        Assert.Equal([RegistryEventTypes.CreateDeviceIdentity, RegistryEventTypes.DeleteDeviceIdentity], events.Select(e => e.OpType));
        Assert.DoesNotContain(Fixture.Logs.Lines, l => l.Level == LogLevel.Error && l.Text.Contains(id, StringComparison.Ordinal));
        Assert.Contains(Fixture.Logs.Lines, l => l.Category == typeof(PendingNotifications).FullName && l.Level == LogLevel.Warning
            && l.Text.Contains(id, StringComparison.Ordinal) && l.Text.Contains("waits to be sent again", StringComparison.Ordinal));
    }

    public sealed class Fixture : IAsyncLifetime
    {
        public static readonly CapturedLogs Logs = new();

        public TestCluster Cluster { get; private set; } = null!;

        public async ValueTask InitializeAsync()
        {
            var builder = new TestClusterBuilder(2);
            var id = Guid.NewGuid().ToString("N")[..12];
            builder.Options.ClusterId = $"failing-sink-{id}";
            builder.Options.ServiceId = $"failing-sink-{id}";
            builder.AddSiloBuilderConfigurator<Configurator>();
            builder.AddClientBuilderConfigurator<ClientConfigurator>();
            Cluster = builder.Build();
            await Cluster.DeployAsync().WaitAsync(RegistryTestHost.StartBound);
        }

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
                // Registered before the registry's own (which only TryAdds): the grains publish through the failure into the real stream.
                silo.Services.AddSingleton<IRegistryEventSink>(sp => new FlakySink(ActivatorUtilities.CreateInstance<StreamEventSink>(sp)));
                silo.Services.AddSingleton<ILoggerProvider>(Logs);
                SiloConfiguration.ConfigureServices(silo, RoutedClusterFixture<AllRoutes>.Settings());
                silo.Services.Configure<RegistryEventOptions>(o => o.PublishRetryDelay = TimeSpan.FromMilliseconds(50));
            }
        }

        private sealed class ClientConfigurator : IClientBuilderConfigurator
        {
            public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) => clientBuilder.AddMemoryStreams(RegistryStreams.Provider);
        }
    }

    /// <summary>The registry's stream sink, refusing every publish while <see cref="Down"/>, as a stream whose storage is away.</summary>
    private sealed class FlakySink(IRegistryEventSink inner) : IRegistryEventSink
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> SentByDevice = new(StringComparer.Ordinal);

        public static volatile bool Down;

        public static int Sent(string deviceId) => SentByDevice.GetValueOrDefault(deviceId);

        public bool IsRouted(string source) => inner.IsRouted(source);

        public async Task Publish(RegistryEvent registryEvent)
        {
            if (Down)
            {
                throw new InvalidOperationException("The event stream is down.");
            }
            await inner.Publish(registryEvent);
            SentByDevice.AddOrUpdate(registryEvent.DeviceId, 1, (_, n) => n + 1);
        }
    }
}
