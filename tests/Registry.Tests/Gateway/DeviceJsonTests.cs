using System.Text.Json;
using Registry.Abstractions;
using Registry.Gateway.Wire;
using static Registry.Tests.Infrastructure.WireJson;

namespace Registry.Tests.Gateway;

public class DeviceJsonTests
{
    private const string Key1 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    private const string Key2 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

    private static readonly DeviceIdentity Device = new()
    {
        DeviceId = "dev1",
        GenerationId = "638000000000000000",
        ETag = "MQ==",
        Status = DeviceStatus.Disabled,
        StatusReason = "maintenance",
        StatusUpdatedTime = new DateTime(2026, 11, 26, 11, 45, 28, 123, DateTimeKind.Utc),
        Authentication = new AuthenticationMechanism(AuthenticationType.Sas, new SymmetricKey(Key1, Key2), null),
        Capabilities = new DeviceCapabilities(true),
        DeviceScope = "ms-azure-iot-edge://dev1-1",
        ParentScopes = ["ms-azure-iot-edge://parent-2"],
        ConnectionState = DeviceConnectionState.Connected,
        CloudToDeviceMessageCount = 3,
    };

    [Fact]
    public void Device_json_has_iot_hub_field_names_in_swagger_order()
    {
        using var doc = JsonDocument.Parse(Write(DeviceWireMapper.ToJson(Device)));
        Assert.Equal(
            ["deviceId", "generationId", "etag", "connectionState", "status", "statusReason", "connectionStateUpdatedTime",
             "statusUpdatedTime", "lastActivityTime", "cloudToDeviceMessageCount", "authentication", "capabilities",
             "deviceScope", "parentScopes"],
            doc.RootElement.EnumerateObject().Select(p => p.Name));
        var auth = doc.RootElement.GetProperty("authentication");
        Assert.Equal(["symmetricKey", "x509Thumbprint", "type"], auth.EnumerateObject().Select(p => p.Name));
        Assert.True(doc.RootElement.GetProperty("capabilities").GetProperty("iotEdge").GetBoolean());
        Assert.Equal(3, doc.RootElement.GetProperty("cloudToDeviceMessageCount").GetInt32());
    }

    [Fact]
    public void Status_is_lowercase_and_connection_state_is_capitalized()
    {
        var json = Write(DeviceWireMapper.ToJson(Device));
        Assert.Contains(Q("'status':'disabled'"), json);
        Assert.Contains(Q("'connectionState':'Connected'"), json);
        Assert.Contains(Q("'status':'enabled'"), Write(DeviceWireMapper.ToJson(Device with { Status = DeviceStatus.Enabled })));
    }

    [Theory]
    [InlineData(AuthenticationType.Sas, "sas")]
    [InlineData(AuthenticationType.SelfSigned, "selfSigned")]
    [InlineData(AuthenticationType.CertificateAuthority, "certificateAuthority")]
    [InlineData(AuthenticationType.None, "none")]
    public void Authentication_type_is_written_in_camel_case(AuthenticationType type, string wire)
    {
        var device = Device with { Authentication = new AuthenticationMechanism(type, null, null) };
        Assert.Contains(Q($"'type':'{wire}'"), Write(DeviceWireMapper.ToJson(device)));
    }

    [Fact]
    public void Never_is_written_as_year_one_in_utc() =>
        Assert.Contains(Q("'lastActivityTime':'0001-01-01T00:00:00Z'"), Write(DeviceWireMapper.ToJson(Device)));

    [Fact]
    public void Dates_are_iso_8601_utc_with_Z_and_keep_their_fraction() =>
        Assert.Contains(Q("'statusUpdatedTime':'2026-11-26T11:45:28.123Z'"), Write(DeviceWireMapper.ToJson(Device)));

    [Fact]
    public void Unspecified_dates_are_taken_as_utc_not_shifted() =>
        Assert.Equal("2026-01-02T03:04:05Z", DeviceWireMapper.FormatDate(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Unspecified)));

    [Fact]
    public void Missing_credentials_are_written_as_objects_of_nulls()
    {
        var device = Device with { Authentication = new AuthenticationMechanism(AuthenticationType.CertificateAuthority, null, null) };
        var json = Write(DeviceWireMapper.ToJson(device));
        Assert.Contains(Q("'symmetricKey':{'primaryKey':null,'secondaryKey':null}"), json);
        Assert.Contains(Q("'x509Thumbprint':{'primaryThumbprint':null,'secondaryThumbprint':null}"), json);
    }

    [Fact]
    public void Optional_fields_are_written_even_when_empty()
    {
        var device = Device with { StatusReason = null, DeviceScope = null, ParentScopes = [] };
        var json = Write(DeviceWireMapper.ToJson(device));
        Assert.Contains(Q("'statusReason':null"), json);
        Assert.Contains(Q("'deviceScope':null"), json);
        Assert.Contains(Q("'parentScopes':[]"), json);
    }

    [Fact]
    public void Special_characters_in_ids_are_written_unescaped() =>
        Assert.Contains("\"deviceId\":\"a+b'c\"", Write(DeviceWireMapper.ToJson(Device with { DeviceId = "a+b'c" })));

    [Fact]
    public void Device_round_trips_through_the_request_schema()
    {
        var input = DeviceWireMapper.ToInput(ReadDevice(Write(DeviceWireMapper.ToJson(Device))), "dev1");
        Assert.Equal("dev1", input.DeviceId);
        Assert.Equal(DeviceStatus.Disabled, input.Status);
        Assert.Equal("maintenance", input.StatusReason);
        Assert.Equal(new AuthenticationMechanism(AuthenticationType.Sas, new SymmetricKey(Key1, Key2), null), input.Authentication);
        Assert.Equal(new DeviceCapabilities(true), input.Capabilities);
        Assert.Equal("ms-azure-iot-edge://dev1-1", input.DeviceScope);
        Assert.Equal(["ms-azure-iot-edge://parent-2"], input.ParentScopes!);
    }
}
