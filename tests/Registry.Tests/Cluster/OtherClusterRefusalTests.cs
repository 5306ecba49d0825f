using Azure.Data.Tables;
using Registry.Client;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Cluster;

/// <summary>
/// One storage serves one cluster at a time (hostile review, 2026-12-07: a second cluster, another ClusterId on the same
/// storage, left the first answering 503 on the first write to each index partition for over 7 minutes after it stopped).
/// </summary>
public sealed class OtherClusterRefusalTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task A_silo_of_another_cluster_id_on_the_same_storage_is_refused_before_it_joins_and_the_running_cluster_keeps_serving()
    {
        var prefix = "occ" + Guid.NewGuid().ToString("N")[..8];
        var settings = azurite.DurableSettings(prefix);
        var other = new Dictionary<string, string?>(settings) { ["Registry:ClusterId"] = prefix + "-b" };
        var membership = new TableServiceClient(azurite.ConnectionString).GetTableClient(RegistryClusterNames.MembershipTable(prefix));
        var first = await RegistryTestHost.StartAsync(settings);
        try
        {
            using var http = first.CreateClient();
            await http.CreateDeviceAsync("occ-1");

            var refused = await Record.ExceptionAsync(() => RegistryTestHost.StartAsync(other));

            var line = RegistryHost.RefusalOf(refused);
            Assert.True(line is not null, $"the start was not refused with a line: {refused}");
            Assert.StartsWith($"Another cluster runs on this storage: Registry:ClusterId={prefix} has a live silo", line, StringComparison.Ordinal);
            Assert.Contains($"this silo's is Registry:ClusterId={prefix}-b", line, StringComparison.Ordinal);
            Assert.Empty(membership.Query<TableEntity>(e => e.PartitionKey == prefix + "-b", cancellationToken: TestContext.Current.CancellationToken));
            // The running cluster was not disturbed: it creates and reads as before.
            await http.CreateDeviceAsync("occ-2");
            Assert.Equal("occ-1", (string?)(await http.GetDeviceJsonAsync("occ-1"))["deviceId"]);
        }
        finally
        {
            await first.DisposeAsync();
        }

        // Stopped in order, the first cluster's silo is no longer alive in the table: the other ClusterId may start now.
        await using var later = await RegistryTestHost.StartAsync(other);
        using var client = later.CreateClient();
        Assert.Equal("occ-2", (string?)(await client.GetDeviceJsonAsync("occ-2"))["deviceId"]);
    }
}
