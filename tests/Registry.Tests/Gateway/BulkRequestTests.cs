using System.Text.Json;
using Registry.Abstractions;
using Registry.Gateway.Wire;
using static Registry.Tests.Gateway.DeviceRequestTests;
using static Registry.Tests.Infrastructure.WireJson;

namespace Registry.Tests.Gateway;

public class BulkRequestTests
{
    [Fact]
    public void ETag_with_capital_T_is_read() => Assert.Equal("MQ==", Single("{'id':'d1','importMode':'updateIfMatchETag','eTag':'MQ=='}").ETag);

    [Fact]
    public void Etag_in_lowercase_is_read() => Assert.Equal("MQ==", Single("{'id':'d1','importMode':'updateIfMatchETag','etag':'MQ=='}").ETag);

    [Fact]
    public void Surrounding_quotes_are_stripped_from_the_etag() =>
        Assert.Equal("MQ==", Single("""{"id":"d1","importMode":"deleteIfMatchETag","eTag":"\"MQ==\""}""").ETag);

    [Theory]
    [InlineData("create", ImportMode.Create)]
    [InlineData("Create", ImportMode.Create)]
    [InlineData("update", ImportMode.Update)]
    [InlineData("Update", ImportMode.Update)]
    [InlineData("UpdateIfMatchETag", ImportMode.UpdateIfMatchETag)]
    [InlineData("updateifmatchetag", ImportMode.UpdateIfMatchETag)]
    [InlineData("Delete", ImportMode.Delete)]
    [InlineData("DeleteIfMatchETag", ImportMode.DeleteIfMatchETag)]
    [InlineData("createOrUpdate", ImportMode.CreateOrUpdate)]
    [InlineData("CreateOrUpdateIfMatchETag", ImportMode.CreateOrUpdateIfMatchETag)]
    public void Import_mode_is_read_case_insensitively(string wire, ImportMode mode) =>
        Assert.Equal(mode, Single($"{{'id':'d1','importMode':'{wire}','eTag':'x'}}").Mode);

    [Theory]
    [InlineData("{'id':'d1'}")]
    [InlineData("{'id':'d1','importMode':null}")]
    public void Missing_import_mode_means_create_or_update(string json) => Assert.Equal(ImportMode.CreateOrUpdate, Single(json).Mode);

    [Theory]
    [InlineData("bogus")]
    [InlineData("updateTwin")]
    [InlineData("updateTwinIfMatchETag")]
    [InlineData("")]
    [InlineData("1")]
    public void Unknown_import_mode_fails_the_whole_request_with_ArgumentInvalid(string mode) =>
        AssertCode(RegistryErrorCode.ArgumentInvalid, () => Parse($"[{{'id':'d1','importMode':'create'}},{{'id':'d2','importMode':'{mode}'}}]"));

    [Fact]
    public void Empty_bulk_is_ArgumentInvalid() => AssertCode(RegistryErrorCode.ArgumentInvalid, () => Parse("[]"));

    [Fact]
    public void More_than_100_items_is_TooManyDevices_413()
    {
        var e = Assert.Throws<RegistryException>(() => Parse(Items(101)));
        Assert.Equal(RegistryErrorCode.TooManyDevices, e.Code);
        Assert.Equal(413, e.Code.HttpStatus());
    }

    [Fact]
    public void Exactly_100_items_are_accepted() => Assert.Equal(100, Parse(Items(100)).Count);

    [Fact]
    public void Same_id_twice_fails_the_whole_request_with_DeviceDefinedMultipleTimes() =>
        AssertCode(RegistryErrorCode.DeviceDefinedMultipleTimes, () => Parse("[{'id':'d1'},{'id':'d2','importMode':'delete'},{'id':'d1'}]"));

    [Fact]
    public void Ids_differing_only_in_case_are_different_devices() => Assert.Equal(2, Parse("[{'id':'d1'},{'id':'D1'}]").Count);

    [Theory]
    [InlineData("[{'id':'d1','status':5}]")]
    [InlineData("[{'id':7}]")]
    [InlineData("[{'id':'d1','authentication':[]}]")]
    [InlineData("[null]")]
    [InlineData("{'id':'d1'}")]
    public void Unparseable_item_fails_the_whole_request_with_IotHubFormatError(string json) =>
        AssertCode(RegistryErrorCode.IotHubFormatError, () => Parse(json));

    [Fact]
    public void Invalid_id_is_a_per_item_error_and_the_other_items_still_go_to_the_registry()
    {
        var items = Parse("[{'id':'bad/id','importMode':'create'},{'id':'d2','importMode':'create'},{'importMode':'create'}]");
        Assert.Equal(RegistryErrorCode.ArgumentInvalid.ToString(), items[0].Error!.ErrorCode);
        Assert.Equal("create", items[0].Error!.Operation);
        Assert.Equal("d2", items[1].Operation!.Device.DeviceId);
        Assert.Null(items[2].Operation);
    }

    [Fact]
    public void Unknown_status_is_a_per_item_error() =>
        Assert.Equal("ArgumentInvalid", Parse("[{'id':'d1','status':'paused'}]")[0].Error!.ErrorCode);

    [Fact]
    public void Module_items_are_per_item_errors_that_name_the_module()
    {
        var error = Parse("[{'id':'d1','moduleId':'m1','importMode':'delete'}]")[0].Error!;
        Assert.Equal(("d1", "m1", "ArgumentInvalid", "delete"), (error.DeviceId, error.ModuleId, error.ErrorCode, error.Operation));
    }

    [Fact]
    public void Bad_keys_are_left_to_the_registry_to_report_per_item()
    {
        var item = Parse("[{'id':'d1','authentication':{'symmetricKey':{'primaryKey':'zz','secondaryKey':'zz'}}}]")[0];
        Assert.Equal("zz", item.Operation!.Device.Authentication!.SymmetricKey!.PrimaryKey);
    }

    [Fact]
    public void Delete_items_ignore_the_device_body() =>
        Assert.Equal(new DeviceIdentityInput { DeviceId = "d1" },
            Single("{'id':'d1','importMode':'Delete','status':'paused','authentication':{'type':'bogus'}}").Device);

    [Fact]
    public void Device_fields_are_carried_into_the_operation()
    {
        var device = Single("{'id':'d1','status':'Disabled','statusReason':'r','capabilities':{'iotEdge':true},'deviceScope':'s','parentScopes':['p']}").Device;
        Assert.Equal((DeviceStatus.Disabled, "r", true, "s"), (device.Status, device.StatusReason, device.Capabilities!.IotEdge, device.DeviceScope));
        Assert.Equal(["p"], device.ParentScopes!);
    }

    [Fact]
    public void Twin_fields_are_accepted_and_ignored() =>
        Assert.Equal("d1", Single("{'id':'d1','importMode':'create','tags':{'a':{'b':1}},'properties':{'desired':{'x':[1,2]}},'twinETag':'AAAAAAAAAAE='}").Device.DeviceId);

    [Fact]
    public void All_successful_result_is_the_iot_hub_shape() =>
        Assert.Equal(Q("{'isSuccessful':true,'errors':[],'warnings':[]}"), Write(BulkRequest.Result(Parse("[{'id':'d1'}]"), [])));

    [Fact]
    public void Failed_result_lists_errors_in_request_order_with_names_and_camel_case_operations()
    {
        var items = Parse("[{'id':'d1','importMode':'Create'},{'id':'bad/id','importMode':'UpdateIfMatchETag'},{'id':'d3','importMode':'DeleteIfMatchETag'}]");
        var grainErrors = new[]
        {
            new BulkOperationError("d3", RegistryErrorCode.PreconditionFailed, "stale", ImportMode.DeleteIfMatchETag),
            new BulkOperationError("d1", RegistryErrorCode.DeviceAlreadyExists, "exists", ImportMode.Create),
        };
        using var doc = JsonDocument.Parse(Write(BulkRequest.Result(items, grainErrors)));
        Assert.False(doc.RootElement.GetProperty("isSuccessful").GetBoolean());
        Assert.Equal(0, doc.RootElement.GetProperty("warnings").GetArrayLength());
        var errors = doc.RootElement.GetProperty("errors").EnumerateArray().ToArray();
        Assert.Equal(["d1", "bad/id", "d3"], errors.Select(e => e.GetProperty("deviceId").GetString()));
        Assert.Equal(["DeviceAlreadyExists", "ArgumentInvalid", "PreconditionFailed"], errors.Select(e => e.GetProperty("errorCode").GetString()));
        Assert.Equal(["create", "updateIfMatchETag", "deleteIfMatchETag"], errors.Select(e => e.GetProperty("operation").GetString()));
        Assert.Equal(JsonValueKind.Null, errors[0].GetProperty("moduleId").ValueKind);
        Assert.Equal("exists", errors[0].GetProperty("errorStatus").GetString());
    }

    private static IReadOnlyList<BulkItem> Parse(string json) => BulkRequest.Parse(ReadBulk(Q(json)));

    private static BulkOperation Single(string json) => Parse($"[{json}]").Single().Operation!;

    private static string Items(int count) => "[" + string.Join(",", Enumerable.Range(0, count).Select(i => $"{{'id':'d{i}'}}")) + "]";
}
