using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Registry.Grains.Index;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Durability;

/// <summary>
/// The index partition count is recorded with the data (Azurite): a host configured with another count refuses to
/// start, says what is stored and what was configured, and leaves the registry as it was.
/// </summary>
public sealed class IndexPartitionCountTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task A_host_configured_with_another_partition_count_refuses_to_start_and_changes_nothing()
    {
        var prefix = "ipc" + Guid.NewGuid().ToString("N")[..8];
        Dictionary<string, string?> Settings(int partitions) => new()
        {
            ["Registry:StorageConnectionString"] = azurite.ConnectionString,
            ["Registry:StoragePrefix"] = prefix,
            ["Registry:ServiceId"] = prefix,
            ["Registry:ClusterId"] = prefix,
            ["Registry:IndexPartitions"] = partitions.ToString(),
        };
        var ids = Enumerable.Range(0, 30).Select(i => $"ipc-{i}").ToArray();
        string dataFolder;
        await using (var first = await RegistryTestHost.StartAsync(Settings(16)))
        {
            dataFolder = first.DataFolder;
            using var http = first.CreateClient();
            foreach (var id in ids)
            {
                Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync(DevicePath(id), new { deviceId = id })).StatusCode);
            }
        }

        var membership = new TableClient(azurite.ConnectionString, prefix + "Cluster");
        var silosBefore = SiloRows(membership);

        var logs = new CapturedLogs();
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => RegistryTestHost.StartAsync(Settings(8), dataFolder,
            configure: b => b.Logging.AddProvider(logs).AddFilter<CapturedLogs>(null, LogLevel.Trace)));

        var mismatch = Assert.IsType<IndexPartitionMismatchException>(Innermost(refused));
        Assert.Equal((16, 8), (mismatch.Stored, mismatch.Configured));
        Assert.Contains(logs.Lines, l => l.Level == LogLevel.Critical
            && l.Text.Contains("IndexPartitions=16", StringComparison.Ordinal) && l.Text.Contains("IndexPartitions=8", StringComparison.Ordinal));
        // Refused before joining: the cluster's membership table never saw the refused silo.
        Assert.Equal(silosBefore, SiloRows(membership));

        // The refused start recorded nothing: the registry starts again with its own count and shows every device.
        await using var again = await RegistryTestHost.StartAsync(Settings(16), dataFolder);
        using var client = again.CreateClient();
        var stats = await client.GetFromJsonAsync<JsonObject>("statistics/devices");
        Assert.Equal(ids.Length, (long)stats!["totalDeviceCount"]!);
        var listed = await client.GetFromJsonAsync<JsonArray>($"devices?{ApiVersion}");
        Assert.Equal(ids.Order(StringComparer.Ordinal), listed!.Select(d => (string)d!["deviceId"]!).Order(StringComparer.Ordinal));
    }

    private static string[] SiloRows(TableClient membership) =>
        membership.Query<TableEntity>().Select(e => e.RowKey).Where(k => k != "VersionRow").Order(StringComparer.Ordinal).ToArray();

    private static Exception Innermost(Exception ex) => ex.InnerException is null ? ex : Innermost(ex.InnerException);
}
