using Registry.Abstractions;
using Registry.Gateway.Wire;
using static Registry.Tests.Gateway.DeviceRequestTests;

namespace Registry.Tests.Gateway;

public class ListRequestTests
{
    [Theory]
    [InlineData(null, 1000)]
    [InlineData("abc", 1000)]
    [InlineData("0", 1000)]
    [InlineData("-5", 1000)]
    [InlineData("1001", 1000)]
    [InlineData("99999999999", 1000)]
    [InlineData("1", 1)]
    [InlineData("250", 250)]
    [InlineData("1000", 1000)]
    public void Top_outside_1_to_1000_or_unreadable_means_1000(string? top, int expected) =>
        Assert.Equal(new ListRequest(expected, null, false), ListRequest.From(top, null, null));

    [Fact]
    public void Max_item_count_header_starts_a_cursor_walk() =>
        Assert.Equal(new ListRequest(50, null, true), ListRequest.From(null, "50", null));

    [Fact]
    public void Continuation_header_continues_the_walk() =>
        Assert.Equal(new ListRequest(50, "token", true), ListRequest.From(null, "50", "token"));

    [Fact]
    public void Continuation_without_max_item_count_pages_by_top() =>
        Assert.Equal(new ListRequest(20, "token", true), ListRequest.From("20", null, "token"));

    [Fact]
    public void Empty_continuation_starts_from_the_beginning() =>
        Assert.Equal(new ListRequest(5, null, true), ListRequest.From(null, "5", ""));

    [Theory]
    [InlineData("0")]
    [InlineData("1001")]
    [InlineData("ten")]
    [InlineData("-1")]
    public void Max_item_count_outside_1_to_1000_is_ArgumentInvalid(string max) =>
        AssertCode(RegistryErrorCode.ArgumentInvalid, () => ListRequest.From(null, max, null));
}
