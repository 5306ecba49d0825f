using Microsoft.Extensions.Primitives;
using Registry.Gateway.Wire;

namespace Registry.Tests.Gateway;

public class IfMatchTests
{
    [Fact]
    public void If_match_absent_means_no_condition() => Assert.Null(IfMatch.Parse(StringValues.Empty));

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("\t")]
    [InlineData(",")]
    [InlineData(",,,")]
    [InlineData(" , \t, ")]
    [InlineData("W/")]
    public void If_match_naming_no_tag_is_a_condition_that_matches_nothing(string header)
    {
        var condition = IfMatch.Parse(header);
        Assert.NotNull(condition);
        Assert.False(condition.IsAny);
        Assert.False(condition.Matches("MQ=="));
    }

    [Fact]
    public void If_match_header_lines_naming_no_tag_are_a_condition_that_matches_nothing()
    {
        var condition = IfMatch.Parse(new StringValues([",", " ", ""]));
        Assert.NotNull(condition);
        Assert.False(condition.Matches("MQ=="));
    }

    [Fact]
    public void If_match_empty_line_beside_a_tag_keeps_the_tag() =>
        Assert.Equal(["a"], IfMatch.Parse(new StringValues([",", "\"a\""]))!.Tags!);

    [Fact]
    public void If_match_star_is_the_wildcard() => Assert.True(IfMatch.Parse("*")!.IsAny);

    [Fact]
    public void If_match_star_quoted_is_the_wildcard() => Assert.True(IfMatch.Parse("\"*\"")!.IsAny);

    [Fact]
    public void If_match_quoted_tag_is_unquoted() => Assert.Equal(["MQ=="], IfMatch.Parse("\"MQ==\"")!.Tags!);

    [Fact]
    public void If_match_weak_tag_drops_the_W_prefix() => Assert.Equal(["MQ=="], IfMatch.Parse("W/\"MQ==\"")!.Tags!);

    [Fact]
    public void If_match_weak_tag_whose_value_begins_with_W_keeps_that_W() =>
        Assert.Equal(["W/2nis9krANY"], IfMatch.Parse("W/\"W/2nis9krANY\"")!.Tags!);

    [Fact]
    public void If_match_bare_tag_beginning_with_W_is_taken_as_is() =>
        Assert.Equal(["W/2nis9krANY"], IfMatch.Parse("W/2nis9krANY")!.Tags!);

    [Fact]
    public void If_match_bare_tag_is_taken_as_is() => Assert.Equal(["MQ=="], IfMatch.Parse("MQ==")!.Tags!);

    [Fact]
    public void If_match_comma_list_names_every_tag() =>
        Assert.Equal(["a", "b", "c"], IfMatch.Parse("\"a\", W/\"b\" ,c")!.Tags!);

    [Fact]
    public void If_match_list_containing_star_is_the_wildcard() => Assert.True(IfMatch.Parse("\"a\", \"*\"")!.IsAny);

    [Fact]
    public void If_match_quoted_tag_may_contain_a_comma() => Assert.Equal(["a,b", "c"], IfMatch.Parse("\"a,b\", \"c\"")!.Tags!);

    [Fact]
    public void If_match_header_lines_are_combined() =>
        Assert.Equal(["a", "b"], IfMatch.Parse(new StringValues(["\"a\"", "\"b\""]))!.Tags!);

    [Fact]
    public void If_match_quoted_empty_tag_is_a_tag_that_matches_nothing()
    {
        var condition = IfMatch.Parse("\"\"")!;
        Assert.False(condition.IsAny);
        Assert.False(condition.Matches("MQ=="));
    }
}
