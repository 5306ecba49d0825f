using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Registry.Abstractions;
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
        Dictionary<string, string?> Settings(int partitions) => new(azurite.DurableSettings(prefix))
        {
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

    [Fact]
    public async Task A_registry_with_more_storage_groups_keys_its_rows_by_them_and_a_host_with_the_default_count_is_refused_and_changes_nothing()
    {
        var prefix = "isg" + Guid.NewGuid().ToString("N")[..8];
        Dictionary<string, string?> Settings(string? groups)
        {
            var settings = new Dictionary<string, string?>(azurite.DurableSettings(prefix))
            {
                ["Registry:DeviceStorage"] = "Batched",
                ["Registry:IndexPartitions"] = "64",
            };
            if (groups is not null)
            {
                settings["Registry:StorageGroups"] = groups;
            }
            return settings;
        }
        var ids = Enumerable.Range(0, 200).Select(i => $"isg-{i}").ToArray();
        string dataFolder;
        await using (var first = await RegistryTestHost.StartAsync(Settings("64")))
        {
            dataFolder = first.DataFolder;
            using var http = first.CreateClient();
            foreach (var batch in ids.Chunk(100))
            {
                using var created = await http.BulkAsync(Json(batch.Select(id => new { id, importMode = "create" }).ToArray()));
                await created.ReadJsonAsync(HttpStatusCode.OK);
            }
        }
        // Index entries and device rows alike lie under one key per group: partition p under g{p mod 64}, 64 keys here
        // where the default count makes 32.
        foreach (var table in new[] { "Index", "DeviceRows" })
        {
            var keys = new TableClient(azurite.ConnectionString, prefix + table).Query<TableEntity>(select: ["PartitionKey"])
                .Select(e => e.PartitionKey).Distinct().ToArray();
            var expected = ids.Select(id => "g" + DevicePartitioner.PartitionOf(id, 64).ToString("D2", System.Globalization.CultureInfo.InvariantCulture)).Distinct();
            Assert.Equal(expected.Order(StringComparer.Ordinal), keys.Order(StringComparer.Ordinal));
            Assert.True(keys.Length > Registry.Host.StorageGroups.DefaultCount, $"{table}: {keys.Length} keys");
        }

        var logs = new CapturedLogs();
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => RegistryTestHost.StartAsync(Settings(null), dataFolder,
            configure: b => b.Logging.AddProvider(logs).AddFilter<CapturedLogs>(null, LogLevel.Trace)));

        var mismatch = Assert.IsType<StorageLayoutMismatchException>(Innermost(refused));
        Assert.Equal(("StorageGroups", "64", "32"), (mismatch.Setting, mismatch.Stored, mismatch.Configured));
        Assert.Contains(logs.Lines, l => l.Level == LogLevel.Critical
            && l.Text.Contains("Registry:StorageGroups=64, but this silo is configured with Registry:StorageGroups=32", StringComparison.Ordinal));

        // The refused start recorded nothing: the registry starts again with its own count and reads every device.
        await using var again = await RegistryTestHost.StartAsync(Settings("64"), dataFolder);
        using var client = again.CreateClient();
        var stats = await client.GetFromJsonAsync<JsonObject>("statistics/devices");
        Assert.Equal(ids.Length, (long)stats!["totalDeviceCount"]!);
        foreach (var id in ids.Where((_, i) => i % 20 == 0))
        {
            Assert.Equal(id, (string)(await client.GetDeviceJsonAsync(id))["deviceId"]!);
        }
    }

    [Fact]
    public async Task A_registry_over_several_tables_keeps_each_group_in_its_table_and_hosts_with_fewer_or_more_tables_are_refused_and_change_nothing()
    {
        var prefix = "ist" + Guid.NewGuid().ToString("N")[..8];
        Dictionary<string, string?> Settings(string? tables)
        {
            var settings = new Dictionary<string, string?>(azurite.DurableSettings(prefix))
            {
                ["Registry:DeviceStorage"] = "Batched",
                ["Registry:IndexPartitions"] = "64",
                ["Registry:StorageGroups"] = "16",
            };
            if (tables is not null)
            {
                settings["Registry:StorageTables"] = tables;
            }
            return settings;
        }
        var ids = Enumerable.Range(0, 200).Select(i => $"ist-{i}").ToArray();
        string dataFolder;
        await using (var first = await RegistryTestHost.StartAsync(Settings("4")))
        {
            dataFolder = first.DataFolder;
            using var http = first.CreateClient();
            foreach (var batch in ids.Chunk(100))
            {
                using var created = await http.BulkAsync(Json(batch.Select(id => new { id, importMode = "create" }).ToArray()));
                await created.ReadJsonAsync(HttpStatusCode.OK);
            }
        }
        // Index entries and device rows alike: group g (partition p mod 16) in table g mod 4 (Index, Index1, Index2, Index3).
        var service = new TableServiceClient(azurite.ConnectionString);
        foreach (var table in new[] { "Index", "DeviceRows" })
        {
            for (var t = 0; t < 4; t++)
            {
                var keys = service.GetTableClient(Registry.Host.StorageTables.Name(prefix + table, t)).Query<TableEntity>(select: ["PartitionKey"])
                    .Select(e => e.PartitionKey).Distinct().Order(StringComparer.Ordinal).ToArray();
                var expected = ids.Select(id => DevicePartitioner.PartitionOf(id, 64) % 16).Where(g => g % 4 == t)
                    .Select(g => "g" + g.ToString("D2", System.Globalization.CultureInfo.InvariantCulture)).Distinct().Order(StringComparer.Ordinal);
                Assert.Equal(expected, keys);
                Assert.NotEmpty(keys);
            }
        }

        var logs = new CapturedLogs();
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => RegistryTestHost.StartAsync(Settings(null), dataFolder,
            configure: b => b.Logging.AddProvider(logs).AddFilter<CapturedLogs>(null, LogLevel.Trace)));

        var mismatch = Assert.IsType<StorageLayoutMismatchException>(Innermost(refused));
        Assert.Equal(("StorageTables", "4", "1"), (mismatch.Setting, mismatch.Stored, mismatch.Configured));
        Assert.Contains(logs.Lines, l => l.Level == LogLevel.Critical
            && l.Text.Contains("Registry:StorageTables=4, but this silo is configured with Registry:StorageTables=1", StringComparison.Ordinal));

        // A start with more tables is refused before it creates any: a refused start used to leave the tables it would
        // have used behind (empty, billable on Azure, up to 126 of them for StorageTables=64), under a message saying
        // nothing was changed.
        string[] TablesOfThePrefix() => service.Query().Select(t => t.Name).Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        var tablesBefore = TablesOfThePrefix();
        var larger = await Assert.ThrowsAnyAsync<Exception>(() => RegistryTestHost.StartAsync(Settings("8"), dataFolder));
        var more = Assert.IsType<StorageLayoutMismatchException>(Innermost(larger));
        Assert.Equal(("StorageTables", "4", "8"), (more.Setting, more.Stored, more.Configured));
        Assert.Equal(tablesBefore, TablesOfThePrefix());

        // The refused starts recorded nothing: the registry starts again with its own count and reads every device.
        await using var again = await RegistryTestHost.StartAsync(Settings("4"), dataFolder);
        using var client = again.CreateClient();
        var stats = await client.GetFromJsonAsync<JsonObject>("statistics/devices");
        Assert.Equal(ids.Length, (long)stats!["totalDeviceCount"]!);
        foreach (var id in ids.Where((_, i) => i % 20 == 0))
        {
            Assert.Equal(id, (string)(await client.GetDeviceJsonAsync(id))["deviceId"]!);
        }
        // An export's range scans find each group's rows in its table: every device once.
        var scan = again.Services.GetRequiredService<Registry.Grains.Devices.IDevicePartitionScan>();
        var scanned = new List<string>();
        foreach (var group in scan.Groups(64))
        {
            await foreach (var (_, device) in scan.ScanGroup(group, TestContext.Current.CancellationToken))
            {
                scanned.Add(device.DeviceId);
            }
        }
        Assert.Equal(ids.Order(StringComparer.Ordinal), scanned.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Two silos of a new cluster starting at once both find no layout record and both write one; the second write is
    /// refused by the blob's ETag, and the check reads the winner's record and goes on. That refusal is the check's
    /// business: Orleans' blob provider used to log it first as an error with a stack trace (<c>fail: … 409 (The specified
    /// blob already exists.)</c>) on every first start of a cluster. The race made deterministic: a read that finds no
    /// record though one exists, as the loser's did.
    /// </summary>
    [Fact]
    public async Task A_start_that_loses_the_race_to_record_the_layout_reads_the_winners_record_and_logs_no_error()
    {
        var prefix = "irc" + Guid.NewGuid().ToString("N")[..8];
        var logs = new CapturedLogs();
        await using var host = await RegistryTestHost.StartAsync(azurite.DurableSettings(prefix),
            configure: b => b.Logging.AddProvider(logs).AddFilter<CapturedLogs>(null, LogLevel.Trace));
        var storage = host.Services.GetRequiredKeyedService<Orleans.Storage.IGrainStorage>(Registry.Grains.StorageNames.Index);
        var options = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Registry.Grains.RegistryIndexOptions>>();
        var settings = host.Services.GetRequiredService<Registry.Host.RegistrySettings>();
        var before = logs.Lines.Count;

        var loser = new IndexPartitionCheck(new FindsNothingFirst(storage), options, host.Services.GetRequiredService<ILogger<IndexPartitionCheck>>(),
            stage: 0, settings.ServiceId, settings.DeviceStorage, storageGroups: settings.StorageGroups);
        await loser.Check(TestContext.Current.CancellationToken);

        var errors = logs.Lines.Skip(before).Where(l => l.Level >= LogLevel.Error).ToList();
        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors.Select(e => $"{e.Level} {e.Category}: {e.Text}")));
    }

    /// <summary>The storage as the losing silo saw it: its first read finds no record; everything else is the real storage.</summary>
    private sealed class FindsNothingFirst(Orleans.Storage.IGrainStorage inner) : Orleans.Storage.IGrainStorage
    {
        private int _reads;

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
            Interlocked.Increment(ref _reads) == 1 ? Task.CompletedTask : inner.ReadStateAsync(stateName, grainId, grainState);

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.WriteStateAsync(stateName, grainId, grainState);

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);
    }

    private static string[] SiloRows(TableClient membership) =>
        membership.Query<TableEntity>().Select(e => e.RowKey).Where(k => k != "VersionRow").Order(StringComparer.Ordinal).ToArray();

    private static Exception Innermost(Exception ex) => ex.InnerException is null ? ex : Innermost(ex.InnerException);
}
