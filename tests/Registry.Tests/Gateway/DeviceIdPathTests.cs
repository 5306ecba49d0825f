using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Registry.Abstractions;
using Registry.Gateway.Wire;

namespace Registry.Tests.Gateway;

public class DeviceIdPathTests
{
    // Every character IoT Hub allows besides letters and digits (wire spec §6).
    public static TheoryData<string> SpecialCharacters => new(@"-:.+%_#*?!(),=@;$'".Select(c => c.ToString()));

    [Theory]
    [MemberData(nameof(SpecialCharacters))]
    public void Every_special_character_round_trips_from_node_encoding(string c)
    {
        var id = $"a{c}b";
        Assert.Equal(id, Decode($"/devices/{Uri.EscapeDataString(id)}?api-version=2021-04-12"));
    }

    [Theory]
    [MemberData(nameof(SpecialCharacters))]
    public void Every_special_character_round_trips_from_csharp_encoding(string c)
    {
        var id = $"a{c}b";
        Assert.Equal(id, Decode($"/devices/{WebUtility.UrlEncode(id)}?api-version=2021-04-12"));
    }

    [Fact]
    public void The_captured_node_id_with_every_special_character_decodes_exactly() =>
        Assert.Equal("a-b:c.d+e%f_g#h*i?j!k(l)m,n=o@p;q$r'",
            Decode("/devices/a-b%3Ac.d%2Be%25f_g%23h*i%3Fj!k(l)m%2Cn%3Do%40p%3Bq%24r'?api-version=2021-04-12"));

    [Theory]
    [InlineData("/devices/a%25b", "a%b")]
    [InlineData("/devices/a%23b", "a#b")]
    [InlineData("/devices/a%3Fb", "a?b")]
    [InlineData("/devices/a%3fb", "a?b")]
    [InlineData("/devices/a+b", "a+b")]
    public void Percent_escapes_decode_once(string target, string id) => Assert.Equal(id, Decode(target));

    [Theory]
    [InlineData("/devices/a%ZZb")]
    [InlineData("/devices/a%")]
    [InlineData("/devices/a%2")]
    [InlineData("/devices/a%FF")]
    [InlineData("/devices/a%C3%28")]
    public void Malformed_or_non_utf8_escapes_are_ArgumentInvalid(string target)
    {
        var error = Assert.Throws<RegistryException>(() => DeviceIdPath.FromRequest(Request(target), "ignored"));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, error.Code);
    }

    [Fact]
    public void Double_encoded_slash_decodes_to_the_text_percent_2F() => Assert.Equal("a%2Fb", Decode("/devices/a%252Fb"));

    [Fact]
    public void Encoded_slash_decodes_to_a_slash_and_is_refused_as_ArgumentInvalid()
    {
        var e = Assert.Throws<RegistryException>(() => DeviceIdPath.FromRequest(Request("/devices/a%2Fb"), "a%2Fb"));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, e.Code);
    }

    [Fact]
    public void Id_is_read_from_the_raw_target_not_the_route_value() =>
        Assert.Equal("a%2Fb", DeviceIdPath.FromRequest(Request("/devices/a%252Fb?api-version=1"), "a%2Fb"));

    [Theory]
    [InlineData("/devices/mine/.")]
    [InlineData("/devices/mine/x/..")]
    [InlineData("/devices/mine/%2E")]
    public void A_dot_segment_after_the_routed_id_is_ArgumentInvalid_not_another_device(string target)
    {
        // Kestrel routes these as "mine" after removing dot segments; the raw last segment names "." or "..".
        var e = Assert.Throws<RegistryException>(() => DeviceIdPath.FromRequest(Request(target), "mine"));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, e.Code);
    }

    [Fact]
    public void Id_falls_back_to_the_route_value_without_a_raw_target() =>
        Assert.Equal("dev1", DeviceIdPath.FromRequest(Request(""), "dev1"));

    [Fact]
    public void Id_longer_than_128_characters_is_ArgumentInvalid() =>
        Assert.Equal(RegistryErrorCode.ArgumentInvalid,
            Assert.Throws<RegistryException>(() => DeviceIdPath.FromRequest(Request("/devices/" + new string('a', 129)), "x")).Code);

    [Fact]
    public void Trailing_slash_is_not_part_of_the_id() => Assert.Equal("dev1", Decode("/devices/dev1/"));

    [Fact]
    public void Absolute_form_target_yields_the_path_segment() => Assert.Equal("a#b", Decode("https://localhost/devices/a%23b?x=1"));

    [Fact]
    public void Target_without_a_path_has_no_segment() => Assert.Null(DeviceIdPath.LastSegment("https://localhost"));

    private static string Decode(string rawTarget) => DeviceIdPath.Decode(DeviceIdPath.LastSegment(rawTarget)!);

    private static DefaultHttpContext Request(string rawTarget)
    {
        var context = new DefaultHttpContext();
        context.Features.Get<IHttpRequestFeature>()!.RawTarget = rawTarget;
        return context;
    }
}
