using System.Net;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Streams;
using Registry.Abstractions;
using Registry.Grains.Events;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Events;

/// <summary>
/// In durable mode the event stream is Azure Queue streams on the registry's storage account (real Azurite), its
/// queues named from the storage prefix so registries sharing an account never share events.
/// </summary>
public sealed class DurableEventStreamTests(AzuriteFixture azurite)
{
    [Fact(Timeout = 120_000)]
    public async Task Durable_mode_delivers_each_create_and_delete_once_through_azure_queues_named_from_the_prefix()
    {
        var ct = TestContext.Current.CancellationToken;
        var prefix = "ev" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await StartRouted(prefix);
        using var http = host.CreateClient();
        var cluster = host.Services.GetRequiredService<IClusterClient>();
        await using var events = await EventStreamClient.OpenAsync(http, "deviceLifecycleEvents", ct);
        var id = DeviceInputs.NewId("durable");

        await http.CreateDeviceAsync(id);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteDeviceAsync(id)).StatusCode);

        var seen = await events.UntilBarrierAsync(cluster, RegistryEventSources.DeviceLifecycle, [id], ct);
        Assert.Equal(["createDeviceIdentity", "deleteDeviceIdentity"], seen.Select(e => (string?)e["applicationProperties"]!["opType"]));
        var queues = new List<string>();
        await foreach (var queue in new QueueServiceClient(azurite.ConnectionString).GetQueuesAsync(prefix: prefix, cancellationToken: ct))
        {
            queues.Add(queue.Name);
        }
        Assert.Equal(Enumerable.Range(0, 4).Select(i => $"{prefix}-events-{i}"), queues.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// A bulk's events are published together: each stream's events raised while its last queue message was being
    /// written go as one message of several events (Orleans' batch container), which a subscriber receives one by one.
    /// One message per event overran Azurite within seconds (README Known limits).
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task A_durable_bulk_create_gives_each_create_once_through_queue_messages_that_carry_several_events()
    {
        const int n = 100;
        var ct = TestContext.Current.CancellationToken;
        var prefix = "evbulk" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await StartRouted(prefix);
        using var http = host.CreateClient();
        var cluster = host.Services.GetRequiredService<IClusterClient>();
        var sink = Assert.IsType<StreamEventSink>(host.Services.GetRequiredService<IRegistryEventSink>());
        await using var subscriber = await EventRecorder.SubscribeAsync(cluster, RegistryEventSources.DeviceLifecycle);
        var ids = Enumerable.Range(0, n).Select(_ => DeviceInputs.NewId("bulk")).ToArray();

        using var created = await http.BulkAsync("[" + string.Join(",", ids.Select(id => $$"""{"id":"{{id}}","importMode":"create"}""")) + "]");

        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var seen = await subscriber.UntilBarrierAsync(ids, ct);
        Assert.Equal(ids.Order(StringComparer.Ordinal), seen.Select(e => e.DeviceId).Order(StringComparer.Ordinal));
        Assert.All(seen, e => Assert.Equal(RegistryEventTypes.CreateDeviceIdentity, e.OpType));
        // At least one message per stream the devices hash to; fewer than one per event.
        Assert.InRange(sink.Batches, ids.Select(RegistryStreams.KeyOf).Distinct().Count(), n - 1);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_client_app_with_azure_clustering_and_azure_queue_streams_sees_each_create_and_delete_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var prefix = "evapp" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await StartRouted(prefix);
        using var http = host.CreateClient();
        var settings = host.Services.GetRequiredService<RegistrySettings>();

        // What the README tells a client app of a durable registry: its cluster table, its queues, its ids.
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.UseOrleansClient(client => client
            .Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (settings.ClusterId, settings.ServiceId))
            .UseAzureStorageClustering(o =>
            {
                o.TableServiceClient = new TableServiceClient(azurite.ConnectionString);
                o.TableName = prefix + "Cluster";
            })
            .AddAzureQueueStreams(RegistryStreams.Provider, (OptionsBuilder<AzureQueueOptions> o) => o.Configure(q =>
            {
                q.QueueServiceClient = new QueueServiceClient(azurite.ConnectionString);
                q.QueueNames = Enumerable.Range(0, 4).Select(i => $"{prefix}-events-{i}").ToList();
            })));
        using var app = builder.Build();
        await app.StartAsync(ct);
        try
        {
            await using var subscriber = await EventRecorder.SubscribeAsync(app.Services.GetRequiredService<IClusterClient>(), RegistryEventSources.DeviceLifecycle);
            var id = DeviceInputs.NewId("durable-app");

            await http.CreateDeviceAsync(id);
            Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteDeviceAsync(id)).StatusCode);

            var seen = await subscriber.UntilBarrierAsync([id], ct);
            Assert.Equal([RegistryEventTypes.CreateDeviceIdentity, RegistryEventTypes.DeleteDeviceIdentity], seen.Select(e => e.OpType));
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Durable_mode_reads_its_event_queues_through_caches_whose_cursors_survive_a_cache_miss()
    {
        await using var host = await StartRouted("evcache" + Guid.NewGuid().ToString("N")[..8]);

        var factory = host.Services.GetRequiredKeyedService<IQueueAdapterFactory>(RegistryStreams.Provider);

        Assert.IsType<RecoveringAzureQueueAdapterFactory>(factory);
        var queue = factory.GetStreamQueueMapper().GetAllQueues().First();
        Assert.IsType<RecoveringQueueCache>(factory.GetQueueAdapterCache().CreateQueueCache(queue));
    }

    /// <summary>A durable registry on the shared Azurite with every source routed, under <paramref name="prefix"/>.</summary>
    private Task<RegistryTestHost> StartRouted(string prefix)
    {
        var settings = new Dictionary<string, string?>(RoutedHostFixture.Routes)
        {
            ["Registry:StorageConnectionString"] = azurite.ConnectionString,
            ["Registry:StoragePrefix"] = prefix,
        };
        return RegistryTestHost.StartAsync(settings);
    }
}
