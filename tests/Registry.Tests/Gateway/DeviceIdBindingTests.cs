using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Registry.Abstractions;
using Registry.Gateway.Wire;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Gateway;

/// <summary>The one device-id binder of every <c>{id}</c> route: strict decoding from the raw target, at the route's position.</summary>
public class DeviceIdBindingTests
{
    // Every character IoT Hub allows besides letters and digits (docs/wire-contract.md §4).
    public static TheoryData<string> SpecialCharacters => new(@"-:.+%_#*?!(),=@;$'".Select(c => c.ToString()));

    [Theory]
    [MemberData(nameof(SpecialCharacters))]
    public void Every_special_character_round_trips_from_node_encoding(string c)
    {
        var id = $"a{c}b";
        Assert.Equal(id, Bind($"/devices/{Uri.EscapeDataString(id)}?{ApiVersion}", id));
    }

    [Theory]
    [MemberData(nameof(SpecialCharacters))]
    public void Every_special_character_round_trips_from_csharp_encoding(string c)
    {
        var id = $"a{c}b";
        Assert.Equal(id, Bind($"/devices/{WebUtility.UrlEncode(id)}?{ApiVersion}", id));
    }

    [Fact]
    public void The_captured_node_id_with_every_special_character_decodes_exactly() =>
        Assert.Equal("a-b:c.d+e%f_g#h*i?j!k(l)m,n=o@p;q$r'",
            Bind($"/devices/a-b%3Ac.d%2Be%25f_g%23h*i%3Fj!k(l)m%2Cn%3Do%40p%3Bq%24r'?{ApiVersion}", "a-b:c.d+e%f_g#h*i?j!k(l)m,n=o@p;q$r'"));

    [Theory]
    [InlineData("/devices/a%25b", "a%b")]
    [InlineData("/devices/a%23b", "a#b")]
    [InlineData("/devices/a%3Fb", "a?b")]
    [InlineData("/devices/a%3fb", "a?b")]
    [InlineData("/devices/a+b", "a+b")]
    public void Percent_escapes_decode_once(string target, string id) => Assert.Equal(id, Bind(target, id));

    [Theory]
    [InlineData("/devices/a%ZZb")]
    [InlineData("/devices/a%")]
    [InlineData("/devices/a%2")]
    [InlineData("/devices/a%FF")]
    [InlineData("/devices/a%C3%28")]
    public void Malformed_or_non_utf8_escapes_are_ArgumentInvalid(string target)
    {
        var error = Assert.Throws<RegistryException>(() => Bind(target, "ignored"));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, error.Code);
    }

    [Fact]
    public void Double_encoded_slash_decodes_to_the_text_percent_2F() => Assert.Equal("a%2Fb", Bind("/devices/a%252Fb", "a%2Fb"));

    [Fact]
    public void Encoded_slash_decodes_to_a_slash_and_is_refused_as_ArgumentInvalid()
    {
        var e = Assert.Throws<RegistryException>(() => Bind("/devices/a%2Fb", "a%2Fb"));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, e.Code);
    }

    [Fact]
    public void Id_is_read_from_the_raw_target_not_the_route_value() =>
        Assert.Equal("a%2Fb", Bind("/devices/a%252Fb?api-version=1", "a%2Fb"));

    [Theory]
    [InlineData("/devices/mine/.")]
    [InlineData("/devices/mine/x/..")]
    [InlineData("/devices/mine/%2E")]
    public void A_dot_segment_after_the_routed_id_is_ArgumentInvalid_not_another_device(string target)
    {
        // Kestrel routes these as "mine" after removing dot segments; the raw last segment names "." or "..".
        var e = Assert.Throws<RegistryException>(() => Bind(target, "mine"));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, e.Code);
    }

    [Fact]
    public void Id_without_a_raw_target_is_ArgumentInvalid_not_taken_from_the_route_value() =>
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, Assert.Throws<RegistryException>(() => Bind("", "dev1")).Code);

    [Fact]
    public void Id_longer_than_128_characters_is_ArgumentInvalid() =>
        Assert.Equal(RegistryErrorCode.ArgumentInvalid,
            Assert.Throws<RegistryException>(() => Bind("/devices/" + new string('a', 129), new string('a', 129))).Code);

    [Fact]
    public void Trailing_slash_is_not_part_of_the_id() => Assert.Equal("dev1", Bind("/devices/dev1/", "dev1"));

    [Fact]
    public void Absolute_form_target_yields_the_path_segment() => Assert.Equal("a#b", Bind("https://localhost/devices/a%23b?x=1", "a#b"));

    [Fact]
    public void Target_without_a_path_has_no_path() => Assert.Null(DeviceIdPath.RawPath("https://localhost"));

    [Theory]
    [InlineData("/devices/{id}/messages/events", $"/devices/a%23b/messages/events?{ApiVersion}")]
    [InlineData("/devices/{id}/heartbeat", "/devices/a%23b/heartbeat")]
    [InlineData("/devices/{id}/modules/{moduleId}", "/devices/a%23b/modules/m1")]
    public void The_id_is_bound_at_its_route_position_in_device_endpoint_routes(string route, string target) =>
        Assert.Equal("a#b", Bind(target, "a#b", route));

    [Theory]
    [InlineData("/devices/{id}/heartbeat", "/devices/dev1/heartbeat/.")]
    [InlineData("/devices/{id}/heartbeat", "/devices/x/../dev1/heartbeat")]
    [InlineData("/devices/{id}/messages/events", "/devices/dev1/messages/events/x/..")]
    public void A_dot_segment_anywhere_in_a_device_endpoint_route_is_ArgumentInvalid(string route, string target) =>
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, Assert.Throws<RegistryException>(() => Bind(target, "dev1", route)).Code);

    [Fact]
    public async Task A_refused_binding_is_kept_for_the_error_filter_instead_of_thrown()
    {
        var context = Request("/devices/a%2Fb", "a%2Fb", "/devices/{id}");
        var parameter = typeof(DeviceIdBindingTests).GetMethod(nameof(Handler), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.GetParameters()[0];

        Assert.Null(await DeviceId.BindAsync(context, parameter));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, DeviceId.BindingRefusal(context)?.Code);
    }

    private static void Handler(DeviceId id) => _ = id;

    private static string Bind(string rawTarget, string routed, string route = "/devices/{id}") =>
        DeviceId.Resolve(Request(rawTarget, routed, route)).Value;

    private static DefaultHttpContext Request(string rawTarget, string routed, string route)
    {
        var context = new DefaultHttpContext();
        context.Features.Get<IHttpRequestFeature>()!.RawTarget = rawTarget;
        context.Request.RouteValues["id"] = routed;
        context.SetEndpoint(new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse(route), 0, EndpointMetadataCollection.Empty, route));
        return context;
    }
}
