using Registry.Abstractions;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Grains;

/// <summary>Bulk registry operations: items are independent, and whole-request errors change nothing.</summary>
public sealed class BulkOperationTests(RegistryClusterFixture fixture) : IClassFixture<RegistryClusterFixture>
{
    [Fact]
    public async Task Bulk_applies_the_good_items_and_reports_each_failed_one()
    {
        var existing = NewId();
        await fixture.Device(existing).Create(Sas(existing));
        var fresh = NewId();
        var missing = NewId();

        var result = await fixture.Registry.ApplyBulk(
        [
            new BulkOperation(ImportMode.Create, Sas(fresh), null),
            new BulkOperation(ImportMode.Create, Sas(existing), null),
            new BulkOperation(ImportMode.Update, Sas(missing), null),
        ]);

        Assert.False(result.IsSuccessful);
        Assert.Equal(
            [(existing, RegistryErrorCode.DeviceAlreadyExists, ImportMode.Create), (missing, RegistryErrorCode.DeviceNotFound, ImportMode.Update)],
            result.Errors.Select(e => (e.DeviceId, e.ErrorCode, e.Operation)));
        Assert.NotNull(await fixture.Device(fresh).Get());
        Assert.Null(await fixture.Device(missing).Get());
    }

    [Fact]
    public async Task IfMatchETag_modes_check_the_item_etag()
    {
        var a = NewId();
        var b = NewId();
        var createdA = await fixture.Device(a).Create(Sas(a));
        await fixture.Device(b).Create(Sas(b));

        var result = await fixture.Registry.ApplyBulk(
        [
            // Bare tags: the gateway strips the quotes SDKs send (BulkRequestTests), once, at the edge.
            new BulkOperation(ImportMode.UpdateIfMatchETag, Sas(a, DeviceStatus.Disabled), createdA.ETag),
            new BulkOperation(ImportMode.DeleteIfMatchETag, Sas(b), "stale"),
        ]);

        Assert.Equal([(b, RegistryErrorCode.PreconditionFailed)], result.Errors.Select(e => (e.DeviceId, e.ErrorCode)));
        Assert.Equal(DeviceStatus.Disabled, (await fixture.Device(a).Get())!.Status);
        Assert.NotNull(await fixture.Device(b).Get());
    }

    [Fact]
    public async Task CreateOrUpdateIfMatchETag_without_an_etag_creates_an_absent_device_and_never_overwrites_a_present_one()
    {
        var absent = NewId();
        var present = NewId();
        var before = await fixture.Device(present).Create(Sas(present) with { StatusReason = "kept" });

        // IoT Hub: "if a device with the specified id does not exist, it is newly registered"; only an existing device
        // needs a matching eTag, and no eTag matches none (as an If-Match naming no tag).
        var result = await fixture.Registry.ApplyBulk(
        [
            new BulkOperation(ImportMode.CreateOrUpdateIfMatchETag, Sas(absent), null),
            new BulkOperation(ImportMode.CreateOrUpdateIfMatchETag, Sas(present) with { StatusReason = "overwritten" }, ""),
        ]);

        Assert.Equal([(present, RegistryErrorCode.PreconditionFailed)], result.Errors.Select(e => (e.DeviceId, e.ErrorCode)));
        Assert.NotNull(await fixture.Device(absent).Get());
        var after = (await fixture.Device(present).Get())!;
        Assert.Equal(("kept", before.ETag), (after.StatusReason, after.ETag));
    }

    [Fact]
    public async Task Update_and_delete_IfMatchETag_modes_without_an_etag_fail_the_item_and_change_nothing()
    {
        var a = NewId();
        var b = NewId();
        var createdA = await fixture.Device(a).Create(Sas(a));
        await fixture.Device(b).Create(Sas(b));

        var result = await fixture.Registry.ApplyBulk(
        [
            new BulkOperation(ImportMode.UpdateIfMatchETag, Sas(a, DeviceStatus.Disabled), null),
            new BulkOperation(ImportMode.DeleteIfMatchETag, Sas(b), null),
        ]);

        Assert.Equal([(a, RegistryErrorCode.PreconditionFailed), (b, RegistryErrorCode.PreconditionFailed)],
            result.Errors.Select(e => (e.DeviceId, e.ErrorCode)).OrderBy(e => e.DeviceId == b));
        Assert.Equal(createdA.ETag, (await fixture.Device(a).Get())!.ETag);
        Assert.NotNull(await fixture.Device(b).Get());
    }

    [Fact]
    public async Task Delete_and_update_modes_ignore_the_etag()
    {
        var a = NewId();
        var b = NewId();
        await fixture.Device(a).Create(Sas(a));
        await fixture.Device(b).Create(Sas(b));

        var result = await fixture.Registry.ApplyBulk(
        [
            new BulkOperation(ImportMode.Delete, Sas(a), "stale"),
            new BulkOperation(ImportMode.Update, Sas(b) with { StatusReason = "forced" }, "stale"),
        ]);

        Assert.True(result.IsSuccessful);
        Assert.Null(await fixture.Device(a).Get());
        Assert.Equal("forced", (await fixture.Device(b).Get())!.StatusReason);
    }

    [Fact]
    public async Task An_id_defined_twice_answers_DeviceDefinedMultipleTimes_and_applies_nothing()
    {
        var a = NewId();
        var b = NewId();
        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Registry.ApplyBulk(
        [
            new BulkOperation(ImportMode.Create, Sas(b), null),
            new BulkOperation(ImportMode.Create, Sas(a), null),
            new BulkOperation(ImportMode.Delete, Sas(a), null),
        ]));

        Assert.Equal(RegistryErrorCode.DeviceDefinedMultipleTimes, error.Code);
        Assert.Null(await fixture.Device(a).Get());
        Assert.Null(await fixture.Device(b).Get());
    }

    [Fact]
    public async Task More_than_a_hundred_items_answers_TooManyDevices_and_applies_nothing()
    {
        var ids = Enumerable.Range(0, 101).Select(_ => NewId("many")).ToArray();
        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            fixture.Registry.ApplyBulk(ids.Select(id => new BulkOperation(ImportMode.Create, Sas(id), null)).ToArray()));

        Assert.Equal(RegistryErrorCode.TooManyDevices, error.Code);
        Assert.Null(await fixture.Device(ids[0]).Get());
    }

    [Fact]
    public async Task An_empty_bulk_answers_ArgumentInvalid()
    {
        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Registry.ApplyBulk([]));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, error.Code);
    }

    [Fact]
    public async Task An_invalid_item_fails_alone()
    {
        var good = NewId();
        var result = await fixture.Registry.ApplyBulk(
        [
            new BulkOperation(ImportMode.Create, Sas(good), null),
            new BulkOperation(ImportMode.Create, WithKeys("bad-keys-" + good, Key32, null), null),
            new BulkOperation(ImportMode.Create, Sas("bad id"), null),
        ]);

        Assert.Equal(2, result.Errors.Count);
        Assert.All(result.Errors, e => Assert.Equal(RegistryErrorCode.ArgumentInvalid, e.ErrorCode));
        Assert.NotNull(await fixture.Device(good).Get());
        Assert.Null(await fixture.Device("bad-keys-" + good).Get());
    }
}
