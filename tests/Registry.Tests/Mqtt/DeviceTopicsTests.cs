using Registry.Gateway.Mqtt;

namespace Registry.Tests.Mqtt;

/// <summary>
/// The telemetry topic's property bag as the MQTT edge reads it: what the SDKs send is accepted, and what HTTPS refuses
/// in a message's properties (a name twice, bytes that are not UTF-8) is refused here too.
/// </summary>
public sealed class DeviceTopicsTests
{
    [Theory]
    [InlineData("")]
    [InlineData("k=v")]
    [InlineData("k")]
    [InlineData("k=")]
    [InlineData("%24.mid=1&%24.ct=application%2Fjson&%24.ce=utf-8&alert=high")]
    [InlineData("temp%C3%A9rature=21%C2%B0")]
    [InlineData("k=1&K=2")] // names differ by case: two properties, as over HTTPS
    [InlineData("%24.mid=m-1%3B2&%24.cid=" + "c")]
    [InlineData("$.cid=")]
    public void A_well_formed_property_bag_is_telemetry(string bag) =>
        Assert.Equal(PublishTopic.Telemetry, DeviceTopics.ClassifyPublish($"devices/d1/messages/events/{bag}", "d1"));

    [Theory]
    [InlineData("k=1&k=2")]
    [InlineData("%24.mid=1&$.mid=2")]
    [InlineData("%6B=1&k=2")]
    [InlineData("k=%FF")]
    [InlineData("%80k=1")]
    [InlineData("k=%C3")]
    [InlineData("k=%ED%A0%80")] // an encoded surrogate half is not UTF-8
    [InlineData("%ZZ=1")]
    [InlineData("k=%4")]
    [InlineData("=v")]
    // Re-check, stop 32: ids HTTPS refuses were taken over MQTT.
    [InlineData("$.mid=")]
    [InlineData("%24.mid")]
    [InlineData("$.mid=a%20b")]
    [InlineData("$.mid=" + "m123456789m123456789m123456789m123456789m123456789m123456789m123456789m123456789m123456789m123456789m123456789m123456789m1234567890")]
    [InlineData("$.cid=" + "c123456789c123456789c123456789c123456789c123456789c123456789c123456789c123456789c123456789c123456789c123456789c123456789c1234567890")]
    public void A_property_bag_https_would_refuse_is_refused(string bag) =>
        Assert.Equal(PublishTopic.BadPropertyBag, DeviceTopics.ClassifyPublish($"devices/d1/messages/events/{bag}", "d1"));
}
