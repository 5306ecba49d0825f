using System.Net;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Registry.Abstractions;
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
        var settings = new Dictionary<string, string?>(RoutedHostFixture.Routes)
        {
            ["Registry:StorageConnectionString"] = azurite.ConnectionString,
            ["Registry:StoragePrefix"] = prefix,
        };
        await using var host = await RegistryTestHost.StartAsync(settings);
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
}
