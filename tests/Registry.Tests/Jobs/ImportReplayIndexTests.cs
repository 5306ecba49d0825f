using System.Text;
using Registry.Abstractions;
using Registry.Grains.Jobs;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Jobs;

/// <summary>
/// An import chunk applied again after a failover meets what its first attempt left half done when its silo died: a
/// delete whose index entry stayed, a status flag its device never got. The chunk leaves the index agreeing with the
/// devices before it reports, so a job that ends <c>completed</c> leaves the statistics exact at once, not only after a
/// partition's verification pass (found by a hostile run: counts wrong for seconds after a resumed job completed).
/// </summary>
public sealed class ImportReplayIndexTests(RegistryClusterFixture fixture) : IClassFixture<RegistryClusterFixture>
{
    private IDeviceIndexGrain Partition(string id) =>
        fixture.Grains.GetGrain<IDeviceIndexGrain>(DevicePartitioner.PartitionOf(id, RegistryClusterFixture.Partitions));

    private static byte[] Lines(params object[] lines) =>
        Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => System.Text.Json.JsonSerializer.Serialize(l) + "\n")));

    [Fact]
    public async Task A_replayed_chunk_drops_the_phantom_its_delete_left_and_corrects_the_flag_its_create_left_before_it_reports()
    {
        var deleted = NewId("replay-deleted");
        var created = NewId("replay-created");
        var before = await fixture.Registry.GetStatistics();
        await fixture.Device(created).Create(Sas(created));
        // What the killed first attempt left: the delete's row gone but its entry kept; a flag the device never got.
        await Partition(deleted).Upsert([new IndexEntry(deleted, true)]);
        await Partition(created).Upsert([new IndexEntry(created, false)]);

        var result = await fixture.Grains.GetGrain<IBulkJobGrain>(0).ImportChunk(new ImportChunk("replay-" + Guid.NewGuid().ToString("N"), 0,
            Lines(new { id = deleted, importMode = "delete" }, new { id = created, importMode = "create", status = "enabled" }), Replay: true));

        Assert.Equal(2, result.Applied);
        Assert.Empty(result.Errors);
        Assert.Equal(before with { TotalDeviceCount = before.TotalDeviceCount + 1, EnabledDeviceCount = before.EnabledDeviceCount + 1 },
            await fixture.Registry.GetStatistics());
    }

    /// <summary>
    /// Re-check, 2026-12-05: a retried delete whose first write landed after its timeout failed on the row already gone
    /// (a storage conflict, 500001) and was logged although the device was deleted. A retried line whose device is as
    /// the line asks counts as applied, whatever the failure said.
    /// </summary>
    [Fact]
    public async Task A_replayed_line_that_failed_with_a_server_error_counts_as_applied_when_its_device_is_as_the_line_asks()
    {
        var id = NewId("replay-servererror");
        var delete = new BulkOperation(ImportMode.Delete, new DeviceIdentityInput { DeviceId = id }, null);

        Assert.True(await ImportReplay.AlreadyApplied(fixture.Grains, delete,
            new BulkOperationError(id, RegistryErrorCode.ServerError, "The registry failed to apply this device.", ImportMode.Delete)));

        await fixture.Device(id).Create(Sas(id));
        Assert.False(await ImportReplay.AlreadyApplied(fixture.Grains, delete,
            new BulkOperationError(id, RegistryErrorCode.ServerError, "The registry failed to apply this device.", ImportMode.Delete)));
    }
}
