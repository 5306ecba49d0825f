using Registry.Abstractions;
using Registry.Gateway.Wire;
using static Registry.Tests.Infrastructure.WireJson;

namespace Registry.Tests.Gateway;

public class DeviceRequestTests
{
    [Fact]
    public void Csharp_sdk_body_with_unzoned_dates_and_null_keys_is_accepted()
    {
        var body = ReadDevice(Q("""
            {'deviceId':'dev1','generationId':null,'etag':null,'connectionState':'Disconnected','status':'enabled',
             'statusReason':null,'connectionStateUpdatedTime':'0001-01-01T00:00:00','statusUpdatedTime':'0001-01-01T00:00:00',
             'lastActivityTime':'0001-01-01T00:00:00','cloudToDeviceMessageCount':0,
             'authentication':{'symmetricKey':{'primaryKey':null,'secondaryKey':null},
                               'x509Thumbprint':{'primaryThumbprint':null,'secondaryThumbprint':null},'type':'sas'},
             'capabilities':{'iotEdge':false},'deviceScope':null,'parentScopes':[]}
            """));
        var input = DeviceWireMapper.ToInput(body, "dev1");
        Assert.Equal(new AuthenticationMechanism(AuthenticationType.Sas, null, null), input.Authentication);
        Assert.Equal(DeviceStatus.Enabled, input.Status);
    }

    [Fact]
    public void Node_empty_keys_ask_for_generated_keys()
    {
        var body = ReadDevice(Q("{'deviceId':'dev1','status':'enabled','authentication':{'type':'sas','symmetricKey':{'primaryKey':'','secondaryKey':''}}}"));
        Assert.Equal(new AuthenticationMechanism(AuthenticationType.Sas, null, null), DeviceWireMapper.ToInput(body, "dev1").Authentication);
    }

    [Fact]
    public void Absent_authentication_asks_for_generated_keys() =>
        Assert.Null(DeviceWireMapper.ToInput(ReadDevice("{}"), "dev1").Authentication);

    [Fact]
    public void Absent_status_means_enabled() =>
        Assert.Equal(DeviceStatus.Enabled, DeviceWireMapper.ToInput(ReadDevice("{}"), "dev1").Status);

    [Fact]
    public void Thumbprints_without_a_type_read_as_selfSigned()
    {
        var thumb = new string('a', 40);
        var body = ReadDevice(Q($"{{'authentication':{{'x509Thumbprint':{{'primaryThumbprint':'{thumb}'}}}}}}"));
        Assert.Equal(new AuthenticationMechanism(AuthenticationType.SelfSigned, null, new X509Thumbprint(thumb, null)),
            DeviceWireMapper.ToInput(body, "dev1").Authentication);
    }

    [Fact]
    public void Thumbprints_with_an_explicit_sas_type_keep_it_for_the_grain_to_refuse()
    {
        var thumb = new string('a', 40);
        var body = ReadDevice(Q($"{{'authentication':{{'type':'sas','x509Thumbprint':{{'primaryThumbprint':'{thumb}'}}}}}}"));
        Assert.Equal(AuthenticationType.Sas, DeviceWireMapper.ToInput(body, "dev1").Authentication!.Type);
    }

    [Theory]
    [InlineData("DISABLED", "SelfSigned")]
    [InlineData("Disabled", "SELFSIGNED")]
    [InlineData("disabled", "selfsigned")]
    public void Enums_are_read_case_insensitively(string status, string type)
    {
        var input = DeviceWireMapper.ToInput(ReadDevice(Q($"{{'status':'{status}','authentication':{{'type':'{type}'}}}}")), "dev1");
        Assert.Equal(DeviceStatus.Disabled, input.Status);
        Assert.Equal(AuthenticationType.SelfSigned, input.Authentication!.Type);
    }

    [Theory]
    [InlineData("{'status':'paused'}")]
    [InlineData("{'status':'1'}")]
    [InlineData("{'status':'enabled,disabled'}")]
    [InlineData("{'authentication':{'type':'password'}}")]
    public void Unknown_enum_value_is_ArgumentInvalid(string json) =>
        AssertCode(RegistryErrorCode.ArgumentInvalid, () => DeviceWireMapper.ToInput(ReadDevice(Q(json)), "dev1"));

    [Theory]
    [InlineData("{'status':1}")]
    [InlineData("{'deviceId':5}")]
    [InlineData("{'capabilities':{'iotEdge':'yes'}}")]
    [InlineData("{'authentication':'sas'}")]
    [InlineData("{'parentScopes':'x'}")]
    [InlineData("[]")]
    public void Wrong_json_type_is_IotHubFormatError(string json) =>
        AssertCode(RegistryErrorCode.IotHubFormatError, () => ReadDevice(Q(json)));

    [Theory]
    [InlineData("{bad")]
    [InlineData("{'status':'enabled',}")]
    [InlineData("{'status':'enabled'} trailing")]
    public void Malformed_json_is_IotHubFormatError(string json) =>
        AssertCode(RegistryErrorCode.IotHubFormatError, () => ReadDevice(Q(json)));

    [Fact]
    public void A_leading_utf8_byte_order_mark_is_ignored()
    {
        var body = RequestBody.Deserialize([.. "\uFEFF"u8, .. """{"deviceId":"dev1","status":"disabled"}"""u8], GatewayJsonContext.Wire.DeviceRequestJson);
        Assert.Equal("disabled", body.Status);
    }

    [Fact]
    public void Json_nested_deeper_than_32_levels_is_IotHubFormatError()
    {
        var deep = "{\"tags\":" + string.Concat(Enumerable.Repeat("{\"a\":", 32)) + "1" + new string('}', 33);
        AssertCode(RegistryErrorCode.IotHubFormatError, () => ReadDevice(deep));
    }

    [Fact]
    public void Json_nested_within_the_limit_is_accepted()
    {
        var nested = "{\"tags\":" + string.Concat(Enumerable.Repeat("{\"a\":", 30)) + "1" + new string('}', 31);
        Assert.NotNull(ReadDevice(nested));
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    public void Empty_or_null_body_is_ArgumentNull(string json) =>
        AssertCode(RegistryErrorCode.ArgumentNull, () => ReadDevice(json));

    [Fact]
    public void Body_device_id_other_than_the_path_id_is_ArgumentInvalid() =>
        AssertCode(RegistryErrorCode.ArgumentInvalid, () => DeviceWireMapper.ToInput(ReadDevice(Q("{'deviceId':'Dev1'}")), "dev1"));

    [Fact]
    public void Missing_body_device_id_means_the_path_id() =>
        Assert.Equal("dev1", DeviceWireMapper.ToInput(ReadDevice("{}"), "dev1").DeviceId);

    [Fact]
    public void Read_only_fields_are_ignored_whatever_their_type()
    {
        var body = ReadDevice(Q("{'etag':7,'generationId':{},'connectionState':'Weird','lastActivityTime':'not a date','cloudToDeviceMessageCount':'x'}"));
        Assert.Equal(DeviceStatus.Enabled, DeviceWireMapper.ToInput(body, "dev1").Status);
    }

    [Fact]
    public void Property_names_match_case_insensitively() =>
        Assert.Equal(DeviceStatus.Disabled, DeviceWireMapper.ToInput(ReadDevice(Q("{'DeviceId':'dev1','Status':'disabled'}")), "dev1").Status);

    [Fact]
    public void Absent_iot_edge_in_capabilities_means_false() =>
        Assert.Equal(new DeviceCapabilities(false), DeviceWireMapper.ToInput(ReadDevice(Q("{'capabilities':{}}")), "dev1").Capabilities);

    internal static void AssertCode(RegistryErrorCode code, Action action) =>
        Assert.Equal(code, Assert.Throws<RegistryException>(action).Code);
}
